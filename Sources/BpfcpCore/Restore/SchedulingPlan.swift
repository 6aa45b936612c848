import Foundation

/// The scheduling and personality rows of the context kind, as the calls
/// that set them. The image records them for the main thread only, and
/// restore sets them before it creates the other threads, which inherit them.
struct SchedulingPlan: Equatable {
    /// nice value, -20 to 19.
    var nice: Int32
    /// SCHED_OTHER (0), SCHED_FIFO (1), SCHED_RR (2), SCHED_BATCH (3) or SCHED_IDLE (5).
    var policy: Int32
    var policyName: String
    /// sched_priority: 1 to 99 for SCHED_FIFO and SCHED_RR, else 0.
    var rtPriority: Int32
    /// CPUs for sched_setaffinity(). nil leaves restore's own.
    var cpus: [Int]?
    var personality: UInt32?
}

/// Reads the scheduling policy, nice value, real-time priority, CPU
/// affinity and personality of an image and checks restore can set them.
enum SchedulingPlanner {
    static let capSysNice = 23

    /// Returns nil when the image has no scheduling rows. What restore has
    /// to set differently from the image is listed in `settings`.
    static func plan(_ image: ProcessImage, restorer: RestorerLimits, onlineCPUs: Set<Int>,
                     settings: inout SettingsPlan) throws -> SchedulingPlan? {
        let rows = try image.items("context", as: ContextProperty.self)
        let scheduling = Dictionary(rows.filter { $0.group == "scheduling" }.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        guard let policyName = scheduling["policy"], let niceText = scheduling["nice"] else { return nil }
        let pid = image.pid
        let policy = try policyNumber(policyName, pid: pid)
        guard let nice = Int32(niceText), (-20...19).contains(nice) else {
            throw ImagePlan.reject(pid, "its nice value \(Escape.text(niceText)) is not valid")
        }
        let rtPriority = Int32(scheduling["rt priority"] ?? "0") ?? 0
        let realTime = policy == 1 || policy == 2
        if realTime && !(1...99).contains(rtPriority) {
            throw ImagePlan.reject(pid, "it runs under \(policyName) with the invalid priority \(rtPriority)")
        }
        let privileged = restorer.effective & (UInt64(1) << UInt64(capSysNice)) != 0
        if realTime && !privileged {
            throw ImagePlan.reject(pid, "it runs under \(policyName) priority \(rtPriority), which restore may set only with CAP_SYS_NICE")
        }
        var plan = SchedulingPlan(nice: nice, policy: policy, policyName: policyName, rtPriority: realTime ? rtPriority : 0)
        if nice < 0 && !privileged {
            plan.nice = 0
            let reason = "restore may not set a nice value below 0 without CAP_SYS_NICE"
            settings.lowered.append("nice \(nice) raised to 0: \(reason)")
            settings.expect(kind: "context", key: "scheduling nice", field: "nice", reason: reason)
        }
        if let affinity = scheduling["cpu affinity"] {
            plan.cpus = try cpus(affinity, online: onlineCPUs, pid: pid, settings: &settings)
        }
        if let row = rows.first(where: { $0.group == "environment" && $0.name == "personality" }) {
            guard let value = personality(row.value) else {
                throw ImagePlan.reject(pid, "its personality \(Escape.text(row.value)) is not valid")
            }
            plan.personality = value
        }
        return plan
    }

    private static func policyNumber(_ name: String, pid: Int32) throws -> Int32 {
        let policies: [String: Int32] = ["SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3, "SCHED_IDLE": 5]
        if let policy = policies[name] { return policy }
        if name == "SCHED_DEADLINE" {
            throw ImagePlan.reject(pid, "it runs under SCHED_DEADLINE, and the image does not record its runtime, deadline and period")
        }
        throw ImagePlan.reject(pid, "it runs under the scheduling policy \(Escape.text(name)), which restore does not set")
    }

    /// Parses an affinity list such as "0-3,6". CPUs that are not online
    /// here are left out and listed in `settings.lowered`. With none online, the image is rejected.
    private static func cpus(_ list: String, online: Set<Int>, pid: Int32, settings: inout SettingsPlan) throws -> [Int] {
        guard let wanted = cpuList(list), !wanted.isEmpty else {
            throw ImagePlan.reject(pid, "its CPU affinity \(Escape.text(list)) is not valid")
        }
        let usable = wanted.filter(online.contains)
        guard !usable.isEmpty else {
            throw ImagePlan.reject(pid, "its CPU affinity \(list) names only CPUs that are not online here")
        }
        if usable.count != wanted.count {
            let reason = "CPUs that are not online here cannot run the process"
            settings.lowered.append("cpu affinity \(list) narrowed to \(ContextNames.cpuList(mask(usable))): \(reason)")
            settings.expect(kind: "context", key: "scheduling cpu affinity", field: "cpu affinity", reason: reason)
        }
        return usable
    }

    /// Parses a list in the form of /proc/PID/status Cpus_allowed_list, or returns nil when it is malformed.
    static func cpuList(_ text: String) -> [Int]? {
        var cpus: [Int] = []
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-").map { Int($0) }
            guard bounds.count <= 2, let first = bounds.first ?? nil, let last = bounds.last ?? nil, first <= last, last < 8192 else {
                return nil
            }
            cpus += Array(first...last)
        }
        return cpus
    }

    /// Reads the CPUs online now from /sys/devices/system/cpu/online.
    static func onlineCPUs() throws -> Set<Int> {
        let text = try ProcFS.readText("/sys/devices/system/cpu/online").trimmingCharacters(in: .whitespacesAndNewlines)
        guard let cpus = cpuList(text) else {
            throw BpfcpError("restore_failed", "/sys/devices/system/cpu/online contains the invalid list \(Escape.text(text))")
        }
        return Set(cpus)
    }

    /// Builds the words of a CPU mask, 64 CPUs a word, as sched_setaffinity() takes it.
    static func mask(_ cpus: [Int]) -> [UInt64] {
        var words = [UInt64](repeating: 0, count: (cpus.max() ?? 0) / 64 + 1)
        for cpu in cpus { words[cpu / 64] |= UInt64(1) << UInt64(cpu % 64) }
        return words
    }

    /// Reverses `ContextNames.personality`: "PER_LINUX|ADDR_NO_RANDOMIZE" to 0x0040000.
    static func personality(_ text: String) -> UInt32? {
        let parts = text.split(separator: "|").map(String.init)
        guard let domainName = parts.first else { return nil }
        let domains: [String: UInt32] = ["PER_LINUX": 0x00, "PER_LINUX32": 0x08, "PER_BSD": 0x10, "PER_HPUX": 0x0f]
        var value: UInt32
        if let domain = domains[domainName] {
            value = domain
        } else if domainName.hasPrefix("domain 0x"), let domain = UInt32(domainName.dropFirst(9), radix: 16) {
            value = domain
        } else {
            return nil
        }
        for name in parts.dropFirst() {
            if let flag = ContextNames.personalityFlags.first(where: { $0.1 == name }) {
                value |= flag.0
            } else if name.hasPrefix("0x"), let bits = UInt32(name.dropFirst(2), radix: 16) {
                value |= bits
            } else {
                return nil
            }
        }
        return value
    }
}
