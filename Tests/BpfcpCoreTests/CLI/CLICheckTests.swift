import BpfcpCore
import XCTest

final class CLICheckTests: XCTestCase {
    func testCheckPassesAsRoot() throws {
        try requireBPF()
        let result = try CLI.run(["--json", "check"])
        XCTAssertEqual(result.status, 0, result.out)
        let object = try result.json()
        XCTAssertEqual(object["ok"] as? Bool, true)
        let checks = try XCTUnwrap(object["checks"] as? [[String: Any]])
        for check in checks {
            XCTAssertEqual(check["ok"] as? Bool, true, "\(check)")
            XCTAssertEqual(check["status"] as? String, "ok", "\(check)")
            XCTAssertNil(check["fix"], "\(check)")
        }

        let names = { (group: String) in Set(checks.filter { $0["group"] as? String == group }.compactMap { $0["name"] as? String }) }
        XCTAssertEqual(names("iterator"), try iteratorTargetsInSources())
        XCTAssertEqual(names("helper"), ["bpf_d_path", "bpf_copy_from_user_task", "bpf_task_pt_regs", "bpf_sock_from_file"])
        XCTAssertEqual(names("capability"), ["CAP_BPF", "CAP_PERFMON", "CAP_SYS_PTRACE", "CAP_SYS_ADMIN", "CAP_CHECKPOINT_RESTORE"])
        XCTAssertEqual(names("kernel"), ["BTF", "PAGEMAP_SCAN", "ptrace scope"])
    }

    func testCheckTextIsOneLinePerFeature() throws {
        try requireBPF()
        let json = try CLI.run(["--json", "check"]).json()
        let count = try XCTUnwrap(json["checks"] as? [[String: Any]]).count
        let text = try CLI.run(["check"])
        XCTAssertEqual(text.status, 0)
        XCTAssertEqual(text.outLines.count, count + 1)
        XCTAssertEqual(text.outLines.last, "everything bpfcp needs is present")
        let btf = text.outLines.first { $0.hasPrefix("ok          kernel BTF ") }
        XCTAssertEqual(btf?.hasSuffix(" /sys/kernel/btf/vmlinux present"), true)
        let task = text.outLines.first { $0.hasPrefix("ok          iterator task ") }
        XCTAssertEqual(task?.contains("task/dump_procs (sleepable)"), true)
    }

    /// Without privileges the capabilities are missing, each with the fix, and
    /// the BPF iterators and helpers are not checked rather than missing.
    func testCheckAsNobodyNamesTheFix() throws {
        let result = try CLI.run(["--json", "check"], asNobody: true)
        XCTAssertEqual(result.status, 1)
        let object = try result.json()
        XCTAssertEqual(object["ok"] as? Bool, false)
        let checks = try XCTUnwrap(object["checks"] as? [[String: Any]])
        let byName = Dictionary(checks.map { ("\($0["group"] ?? "") \($0["name"] ?? "")", $0) }, uniquingKeysWith: { a, _ in a })

        let capBPF = try XCTUnwrap(byName["capability CAP_BPF"])
        XCTAssertEqual(capBPF["ok"] as? Bool, false)
        XCTAssertEqual(capBPF["status"] as? String, "missing")
        XCTAssertEqual(capBPF["fix"] as? String, "run bpfcp as root (sudo bpfcp ...)")
        XCTAssertEqual(capBPF["detail"] as? String, "not in the effective set, needed to load BPF programs")

        let task = try XCTUnwrap(byName["iterator task"])
        XCTAssertEqual(task["ok"] as? Bool, false)
        XCTAssertEqual(task["status"] as? String, "not_checked")
        XCTAssertEqual(task["detail"] as? String, "not checked: loading the task iterator needs root (CAP_BPF)")
        XCTAssertEqual(task["fix"] as? String, "run `sudo bpfcp check` to check it")

        let dPath = try XCTUnwrap(byName["helper bpf_d_path"])
        XCTAssertEqual(dPath["status"] as? String, "not_checked")
        XCTAssertEqual(dPath["fix"] as? String, "run `sudo bpfcp check` to check it")
        for check in checks where ["iterator", "helper"].contains(check["group"] as? String) {
            XCTAssertNotEqual(check["status"] as? String, "missing", "\(check)")
        }

        XCTAssertEqual(byName["kernel BTF"]?["ok"] as? Bool, FileManager.default.fileExists(atPath: "/sys/kernel/btf/vmlinux"))
        XCTAssertEqual(byName["kernel PAGEMAP_SCAN"]?["ok"] as? Bool, true)

        let text = try CLI.run(["check"], asNobody: true)
        XCTAssertEqual(text.status, 1)
        XCTAssertTrue(text.outLines.contains("missing     capability CAP_BPF                 not in the effective set, needed to load BPF programs; fix: run bpfcp as root (sudo bpfcp ...)"),
                      text.out)
        // The helper line names the first object that calls bpf_d_path, whichever sorts first.
        XCTAssertTrue(text.outLines.contains {
            $0.hasPrefix("not checked helper bpf_d_path ") && $0.hasSuffix(" needs root (CAP_BPF); fix: run `sudo bpfcp check` to check it")
        }, text.out)
        let missing = checks.filter { $0["status"] as? String == "missing" }.count
        let notChecked = checks.filter { $0["status"] as? String == "not_checked" }.count
        XCTAssertGreaterThan(notChecked, 4)
        XCTAssertEqual(text.outLines.last, "\(missing) of \(checks.count) checks missing: apply the fixes above; "
                       + "\(notChecked) not checked because they need root: run `sudo bpfcp check`")
    }

    /// Iterator targets named by SEC("iter/...") and SEC("iter.s/...") in bpf/*.bpf.c.
    private func iteratorTargetsInSources() throws -> Set<String> {
        let dir = Fixture.repositoryRoot() + "/bpf"
        var targets: Set<String> = []
        for file in try FileManager.default.contentsOfDirectory(atPath: dir) where file.hasSuffix(".bpf.c") {
            let source = try String(contentsOfFile: dir + "/" + file, encoding: .utf8)
            for line in source.split(separator: "\n") where line.hasPrefix("SEC(\"iter") {
                let section = line.split(separator: "\"")[1]
                targets.insert(String(section.split(separator: "/")[1]))
            }
        }
        return targets
    }
}
