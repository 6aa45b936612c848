import Foundation

/// Sets the nice value, scheduling policy, CPU affinity and personality of
/// a `SchedulingPlan` in the main thread. It runs before the other threads
/// are created, so that they inherit them, and before the credentials drop,
/// which could forbid a negative nice value or a real-time policy.
struct SchedulingRestore {
    let plan: SchedulingPlan
    let injector: Injector

    static let prioProcess = 0

    func run() throws {
        try injector.queue(SyscallNumber.setpriority, [.int(Self.prioProcess), .int(0), .int(Int(plan.nice))],
                           text: "setpriority(PRIO_PROCESS, 0, \(plan.nice))")
        try injector.queue(SyscallNumber.schedSetscheduler, [.int(0), .int(Int(plan.policy)), .payload(0)],
                           payloads: [ProcessStateRestore.bytes(plan.rtPriority)],
                           text: "sched_setscheduler(0, \(plan.policyName), {sched_priority=\(plan.rtPriority)})",
                           advice: [EPERM: "a real-time policy also needs run time in restore's cgroup (cpu.rt_runtime_us)"])
        if let cpus = plan.cpus {
            let words = SchedulingPlanner.mask(cpus)
            try injector.queue(SyscallNumber.schedSetaffinity, [.int(0), .int(words.count * 8), .payload(0)],
                               payloads: [words.flatMap { ProcessStateRestore.bytes($0) }],
                               text: "sched_setaffinity(0, \(words.count * 8), [\(ContextNames.cpuList(words))])")
        }
        if let personality = plan.personality {
            try injector.queue(SyscallNumber.personality, [.value(UInt64(personality))],
                               text: "personality(\(ContextNames.personality(personality)))")
        }
        try injector.flush()
    }
}

extension SyscallNumber {
    static let personality = 135, setpriority = 141, schedSetscheduler = 144, schedSetaffinity = 203
}
