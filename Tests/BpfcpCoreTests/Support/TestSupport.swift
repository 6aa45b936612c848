// Makes Fixture, FixtureError and requireBPF, shared by both test targets, visible in every file here.
@_exported import BpfcpTestSupport
