import BpfcpCore
import Foundation

let checkCommand = Command(
    name: "check",
    summary: "report which kernel features and privileges bpfcp needs and how to fix missing ones",
    options: [],
    needsRoot: false,
    validate: { arguments in
        guard arguments.operands.isEmpty else {
            throw BpfcpError("usage", "check takes no operands, got '\(Escape.text(arguments.operands[0]))': run `bpfcp check`")
        }
    }
) { _, output in
    let checks = FeatureChecks.all()
    let allPresent = checks.allSatisfy(\.ok)

    if output.json {
        try output.emit(CheckReport(schemaVersion: Dump.schemaVersion, ok: allPresent, checks: checks))
    } else {
        for check in checks {
            output.text(checkLine(check))
        }
        output.text(summary(checks))
    }
    return allPresent ? ExitCode.success : ExitCode.failure
}

/// Returns the last line of `check` text output: what is missing and what was not checked.
private func summary(_ checks: [FeatureCheck]) -> String {
    let missing = checks.filter { $0.status == .missing }.count
    let notChecked = checks.filter { $0.status == .notChecked }.count
    if missing == 0 && notChecked == 0 { return "everything bpfcp needs is present" }

    var parts: [String] = []
    if missing > 0 { parts.append("\(missing) of \(checks.count) checks missing: apply the fixes above") }
    if notChecked > 0 { parts.append("\(notChecked) not checked because they need root: run `sudo bpfcp check`") }
    return parts.joined(separator: "; ")
}

/// One line of `check` text output: status, group and name, what was seen, and the fix.
private func checkLine(_ check: FeatureCheck) -> String {
    let status: String
    switch check.status {
    case .ok: status = "ok         "
    case .missing: status = "missing    "
    case .notChecked: status = "not checked"
    }
    let name = (check.group + " " + check.name).padding(toLength: 34, withPad: " ", startingAt: 0)
    let fix = check.fix.map { "; fix: " + $0 } ?? ""
    return "\(status) \(name) \(check.detail)\(fix)"
}

/// `check --json` output.
struct CheckReport: Encodable {
    let schemaVersion: Int
    /// True when every check passed, which is also when the exit code is 0. A check
    /// that was not checked leaves it false.
    let ok: Bool
    let checks: [FeatureCheck]
}
