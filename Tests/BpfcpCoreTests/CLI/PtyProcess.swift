import Foundation

/// A process whose stdin, stdout and stderr are a pty slave and whose fd 3 is
/// the file `path`: the child of the pty_stdio fixture, which keeps the pty
/// master open. Both are killed when the fixture is released.
final class PtyProcess {
    let fixture: Fixture
    let pid: Int32
    /// Path of the pty slave, "/dev/pts/N".
    let slave: String

    init(file path: String) throws {
        fixture = try Fixture(c: "pty_stdio", arguments: [path])
        guard let pid = fixture.int("pid").map(Int32.init), let slave = fixture.values["pts"] else {
            throw FixtureError("pty_stdio printed \(fixture.firstLine), without pid= and pts=")
        }
        self.pid = pid
        self.slave = slave
    }
}
