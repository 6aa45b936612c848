@testable import BpfcpCore
import XCTest

final class CredentialsTests: XCTestCase {
    /// Titles show in tabs, diff lines and CLI sections, so they are plain words, not type names.
    func testKindTitlesArePlainWords() {
        XCTAssertEqual(CredentialsKind.title, "Thread credentials")
        for kind in KindRegistry.all {
            let camelCase = kind.title.range(of: "[a-z][A-Z]", options: .regularExpression)
            XCTAssertNil(camelCase, "kind \(kind.name) has the title \(kind.title)")
        }
    }

    func testCredentialsMatchFixture() throws {
        try requireBPF()
        let fixture = try Fixture(c: "credentials")
        let creds = try XCTUnwrap(CredentialsKind.collectBPF(pid: fixture.pid).first)

        XCTAssertEqual(creds.uids, [2001, 2002, 2003, 2002], "setresuid sets the fs uid to the effective uid")
        XCTAssertEqual(creds.gids, [1001, 1002, 1003, 1002])
        XCTAssertEqual(creds.groups, [100, 200, 300])
        XCTAssertFalse(creds.groupsTruncated)
        XCTAssertEqual(creds.capEffective, ["CAP_NET_BIND_SERVICE"])
        XCTAssertEqual(creds.capPermitted, ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"])
        XCTAssertEqual(creds.capInheritable, ["CAP_NET_BIND_SERVICE"])
        XCTAssertEqual(creds.capAmbient, ["CAP_NET_BIND_SERVICE"])
        XCTAssertEqual(creds.capBounding, ["CAP_CHOWN", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE"])
        XCTAssertTrue(creds.noNewPrivs)
        XCTAssertEqual(creds.securebits, ["SECBIT_KEEP_CAPS"])
        XCTAssertEqual(creds.seccompMode, "filter")
        XCTAssertEqual(creds.seccompFilters, 2)
        XCTAssertEqual(creds.seccompFilterLengths, [1, 4], "newest filter first")
    }

    func testCredentialsEqualProcOracle() throws {
        try requireBPF()
        for fixture in [try Fixture(c: "credentials"), try Fixture(c: "signal_actions")] {
            let bpf = try CredentialsKind.collectBPF(pid: fixture.pid)
            let proc = try CredentialsProc.collect(pid: fixture.pid)
            XCTAssertEqual(bpf.count, proc.count)
            for (a, b) in zip(bpf, proc) {
                var comparable = a
                comparable.securebits = nil
                comparable.seccompFilterLengths = nil
                XCTAssertEqual(comparable, b, "thread \(a.tid) differs between BPF and /proc")
            }
        }
    }

    func testNamespacesOfChildInNewNamespaces() throws {
        try requireBPF()
        let fixture = try Fixture(c: "namespaces")
        let child = Int32(try XCTUnwrap(fixture.int("child")))
        let parentRows = try NamespacesKind.collectBPF(pid: fixture.pid)
        let childRows = try NamespacesKind.collectBPF(pid: child)
        let parent = Dictionary(uniqueKeysWithValues: parentRows.map { ($0.name, $0) })
        let inner = Dictionary(uniqueKeysWithValues: childRows.map { ($0.name, $0) })

        XCTAssertEqual(inner["pid level 0"]?.pid, child)
        XCTAssertEqual(inner["pid level 1"]?.pid, 1)
        XCTAssertNil(inner["pid level 2"])
        XCTAssertEqual(parent["pid level 0"]?.pid, fixture.pid)
        XCTAssertNil(parent["pid level 1"])
        XCTAssertEqual(inner["pid"]?.inode, parent["pid_for_children"]?.inode)
        XCTAssertNotEqual(inner["pid"]?.inode, parent["pid"]?.inode)
        XCTAssertEqual(inner["pid level 1"]?.inode, inner["pid"]?.inode)
        XCTAssertEqual(inner["pid level 0"]?.inode, parent["pid"]?.inode)
        XCTAssertEqual(inner["uts"]?.inode, parent["uts"]?.inode, "unshare moves the caller into the new uts namespace")
        XCTAssertEqual(inner["time"]?.inode, parent["time_for_children"]?.inode)
        XCTAssertNotEqual(parent["time"]?.inode, parent["time_for_children"]?.inode)

        for pid in [fixture.pid, child] {
            let bpf = try NamespacesKind.collectBPF(pid: pid)
            let proc = try NamespacesKind.collectProc(pid: pid)
            XCTAssertEqual(bpf.map(\.name), proc.map(\.name))
            for (a, b) in zip(bpf, proc) {
                XCTAssertEqual(a.pid, b.pid, "\(a.name) of \(pid)")
                if let inode = b.inode { XCTAssertEqual(a.inode, inode, "\(a.name) of \(pid)") }
            }
        }
    }
}
