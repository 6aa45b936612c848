import Foundation

/// Per-process settings that restore applies after the fds: the root
/// directory, resource limits and credentials. cwd and umask stay in
/// `RestorePlan`, because they are set before any file is opened.
struct SettingsPlan {
    /// Directory to chroot into; nil when the image's root is "/".
    var root: String?
    var limits: [LimitPlan] = []
    var credentials: CredentialPlan?
    /// Capabilities and limits of the restoring process when the plan was made.
    var restorer: RestorerLimits?
    /// Settings restore sets lower than the image has, one line each, with the reason.
    var lowered: [String] = []
    /// Expected verify differences: field name by resource kind and entry key, with the reason.
    var expected: [String: String] = [:]

    /// Returns why `field` of entry `key` in `kind` differs after restore, when restore lowered it on purpose.
    func reason(kind: String, key: String, field: String) -> String? {
        expected["\(kind)\u{0}\(key)\u{0}\(field)"]
    }

    mutating func expect(kind: String, key: String, field: String, reason: String) {
        expected["\(kind)\u{0}\(key)\u{0}\(field)"] = reason
    }
}

/// One prlimit64() call: the resource number and the values to set.
struct LimitPlan: Equatable {
    var resource: Int32
    var name: String
    var soft: UInt64
    var hard: UInt64
}

/// The ids, groups and capability sets of the main thread, as masks.
struct CredentialPlan {
    /// Real, effective, saved and file-system ids.
    var uids: [UInt32]
    var gids: [UInt32]
    var groups: [UInt32]
    var effective: UInt64
    var permitted: UInt64
    var inheritable: UInt64
    var bounding: UInt64
    var ambient: UInt64
    var securebits: UInt32
    var noNewPrivs: Bool
}

/// Capability sets and limits of the restoring process, which the restore
/// child inherits and may only lower.
struct RestorerLimits {
    var effective: UInt64
    var permitted: UInt64
    var inheritable: UInt64
    var bounding: UInt64
    var limits: [Int32: (soft: UInt64, hard: UInt64)]

    static func current() throws -> RestorerLimits {
        let status = capabilityLines(try ProcFS.readText("/proc/self/status"))
        let mask = { (key: String) in UInt64(status[key] ?? "0", radix: 16) ?? 0 }
        var limits: [Int32: (soft: UInt64, hard: UInt64)] = [:]
        for resource in 0..<Int32(ContextNames.rlimits.count) {
            var value = rlimit()
            if getrlimit(__rlimit_resource_t(UInt32(resource)), &value) == 0 {
                limits[resource] = (UInt64(value.rlim_cur), UInt64(value.rlim_max))
            }
        }
        return RestorerLimits(effective: mask("CapEff"), permitted: mask("CapPrm"), inheritable: mask("CapInh"),
                              bounding: mask("CapBnd"), limits: limits)
    }

    var canRaiseLimits: Bool { effective & (UInt64(1) << 24) != 0 }

    /// Returns the values of the "Cap" lines of /proc/PID/status by key,
    /// as `ProcFS.keyValues` reads them but without Foundation's whitespace
    /// trimming, whose first use cost about a millisecond of each restore in profiles.
    static func capabilityLines(_ status: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in status.split(separator: "\n") where line.hasPrefix("Cap") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
            values[String(line[..<colon])] = String(value.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
        }
        return values
    }
}

/// Reads the settings of an image and checks restore can apply them.
enum SettingsPlanner {
    static func plan(_ image: ProcessImage, restorer: RestorerLimits) throws -> SettingsPlan {
        var plan = SettingsPlan()
        plan.restorer = restorer
        let context = try image.items("context", as: ContextProperty.self).filter { $0.group == "environment" }
        if let root = context.first(where: { $0.name == "root" }) {
            let path = try directory(root, what: "root directory", pid: image.pid)
            plan.root = path == "/" ? nil : path
        }
        try planLimits(image, restorer: restorer, into: &plan)
        try planCredentials(image, restorer: restorer, into: &plan)
        return plan
    }

    /// Returns the cwd of the image, checked to be a directory that exists now.
    static func cwd(_ image: ProcessImage) throws -> String? {
        let context = try image.items("context", as: ContextProperty.self).filter { $0.group == "environment" }
        return try context.first { $0.name == "cwd" }.map { try directory($0, what: "working directory", pid: image.pid) }
    }

    /// Returns the umask of the image, parsed from its octal text such as "0022".
    static func umask(_ image: ProcessImage) throws -> UInt32? {
        let context = try image.items("context", as: ContextProperty.self).filter { $0.group == "environment" }
        return context.first { $0.name == "umask" }.flatMap { UInt32($0.value, radix: 8) }
    }

    /// Returns the path of a cwd or root row. When readlink failed at
    /// checkpoint time the row contains BPF's inode number instead, which cannot be reopened.
    private static func directory(_ row: ContextProperty, what: String, pid: Int32) throws -> String {
        guard !row.source.hasPrefix("bpf (readlink") else {
            throw ImagePlan.reject(pid, "the image has no path for its \(what) (\(row.value))")
        }
        let path = String(decoding: Escape.unescape(row.value), as: UTF8.self)
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw ImagePlan.reject(pid, "its \(what) \(row.value) is missing or not a directory now")
        }
        return path
    }

    // MARK: limits

    private static func planLimits(_ image: ProcessImage, restorer: RestorerLimits, into plan: inout SettingsPlan) throws {
        for limit in try image.items("limits", as: ResourceLimit.self) {
            guard let resource = ContextNames.rlimits.firstIndex(where: { $0.name == limit.resource }).map(Int32.init),
                  let soft = limitValue(limit.soft), let hard = limitValue(limit.hard) else {
                throw ImagePlan.reject(image.pid, "its limit \(Escape.text(limit.resource)) (\(Escape.text(limit.soft)), \(Escape.text(limit.hard))) is not valid")
            }
            var value = LimitPlan(resource: resource, name: limit.resource, soft: soft, hard: hard)
            if let own = restorer.limits[resource], hard > own.hard, !restorer.canRaiseLimits {
                value.hard = own.hard
                value.soft = min(soft, own.hard)
                let reason = "restore may not raise a hard limit above its own \(LimitsKind.value(own.hard)) without CAP_SYS_RESOURCE"
                plan.lowered.append("\(limit.resource) hard limit \(limit.hard) lowered to \(LimitsKind.value(own.hard)): \(reason)")
                plan.expect(kind: "limits", key: limit.resource, field: "hard", reason: reason)
                if value.soft != soft { plan.expect(kind: "limits", key: limit.resource, field: "soft", reason: reason) }
            }
            plan.limits.append(value)
        }
    }

    private static func limitValue(_ text: String) -> UInt64? {
        text == "unlimited" ? UInt64.max : UInt64(text)
    }

    // MARK: credentials

    private static func planCredentials(_ image: ProcessImage, restorer: RestorerLimits, into plan: inout SettingsPlan) throws {
        guard let cred = try image.items("credentials", as: ThreadCredentials.self).first(where: { $0.tid == image.pid }) else { return }
        let pid = image.pid
        guard cred.uids.count == 4, cred.gids.count == 4 else {
            throw ImagePlan.reject(pid, "its credentials contain \(cred.uids.count) uids and \(cred.gids.count) gids, not 4 each")
        }
        if cred.groupsTruncated {
            throw ImagePlan.reject(pid, "it has more supplementary groups than the \(cred.groups.count) the image contains")
        }
        if cred.seccompMode != "disabled" {
            throw ImagePlan.reject(pid, "it runs under seccomp (\(cred.seccompMode), \(cred.seccompFilters) filters), and the image does not contain the filters")
        }
        let bits = try capabilityMasks(cred, pid: pid)
        let securebits = try securebitMask(cred.securebits ?? [], pid: pid)

        // The child starts with restore's own sets. capset() and PR_CAPBSET_DROP only remove
        // capabilities, and an inheritable one must be in restore's inheritable or bounding set.
        var result = CredentialPlan(uids: cred.uids, gids: cred.gids, groups: cred.groups,
                                    effective: bits.effective & restorer.permitted, permitted: bits.permitted & restorer.permitted,
                                    inheritable: bits.inheritable & (restorer.inheritable | restorer.bounding),
                                    bounding: bits.bounding & restorer.bounding,
                                    ambient: bits.ambient & restorer.permitted, securebits: securebits, noNewPrivs: cred.noNewPrivs)
        result.ambient &= result.permitted & result.inheritable
        let key = "thread \(image.pid)"
        for (field, wanted, granted) in [("effective capabilities", bits.effective, result.effective),
                                         ("permitted capabilities", bits.permitted, result.permitted),
                                         ("inheritable capabilities", bits.inheritable, result.inheritable),
                                         ("bounding set", bits.bounding, result.bounding),
                                         ("ambient capabilities", bits.ambient, result.ambient)] where wanted != granted {
            let missing = CredentialNames.capabilityNames(wanted & ~granted).joined(separator: "|")
            let reason = "restore does not hold \(missing) itself, so it cannot give them"
            plan.lowered.append("\(field) without \(missing): \(reason)")
            plan.expect(kind: "credentials", key: key, field: field, reason: reason)
        }
        plan.credentials = result
    }

    private static func capabilityMasks(_ cred: ThreadCredentials, pid: Int32) throws
        -> (effective: UInt64, permitted: UInt64, inheritable: UInt64, bounding: UInt64, ambient: UInt64) {
        let mask = { (names: [String]) throws -> UInt64 in
            try names.reduce(UInt64(0)) { mask, name in
                if let index = CredentialNames.capabilities.firstIndex(of: name) { return mask | (UInt64(1) << UInt64(index)) }
                if name.hasPrefix("cap_"), let bit = UInt64(name.dropFirst(4)), bit < 64 { return mask | (UInt64(1) << bit) }
                throw ImagePlan.reject(pid, "its credentials name the unknown capability \(Escape.text(name))")
            }
        }
        return (try mask(cred.capEffective), try mask(cred.capPermitted), try mask(cred.capInheritable),
                try mask(cred.capBounding), try mask(cred.capAmbient))
    }

    private static func securebitMask(_ names: [String], pid: Int32) throws -> UInt32 {
        try names.reduce(UInt32(0)) { mask, name in
            guard let bit = (0..<32).first(where: { CredentialNames.securebitNames(UInt32(1) << UInt32($0)) == [name] }) else {
                throw ImagePlan.reject(pid, "its credentials name the unknown securebit \(Escape.text(name))")
            }
            return mask | (UInt32(1) << UInt32(bit))
        }
    }
}
