import CBpfcpShim
import Foundation

/// One argument of an injected system call: a plain value, or the address
/// in the child of one of the call's payloads (a path, a struct).
enum SyscallArgument {
    case value(UInt64)
    case payload(Int)

    static func int(_ v: Int) -> SyscallArgument { .value(UInt64(bitPattern: Int64(v))) }
}

/// A system call queued for the child.
struct InjectedCall {
    let number: Int
    let arguments: [SyscallArgument]
    /// Bytes copied into the trampoline for this call, referenced by `.payload(i)`.
    let payloads: [[UInt8]]
    /// The call as strace would print it, for --verbose and error messages.
    let text: String
    /// The result the restore plan depends on, such as the fd an open must get.
    let expected: Int64?
    /// The fix for a failure, by errno, added to the error message.
    var advice: [Int32: String] = [:]
    /// Pointers between payloads: the address of payload `target` is stored
    /// at byte `at` of payload `payload`, as a struct pointing at an array needs.
    var pointers: [(payload: Int, at: Int, target: Int)] = []
}

/// Queues system calls, copies them into the child's trampoline in batches
/// and runs each batch through the syscall stub with one ptrace stop.
///
/// Trampoline layout: the stub in the first page, then `tableCapacity`
/// entries of 8 words, then the payload area.
final class Injector {
    let tracee: Tracee
    let log: ((String) -> Void)?
    private var queue: [InjectedCall] = []
    private var queuedPayloadBytes = 0
    private(set) var injectedCount = 0

    static let tableCapacity = 1024
    private var tableAddress: UInt64 { tracee.trampoline + Tracee.codeSize }
    private var payloadAddress: UInt64 { tableAddress + UInt64(Self.tableCapacity * Tracee.entrySize) }
    private var payloadCapacity: Int { Int(tracee.trampoline + tracee.trampolineSize - payloadAddress) }

    /// Bytes a trampoline needs for the stub, the table and `payload` bytes of payloads.
    static func trampolineSize(payload: Int) -> UInt64 {
        Tracee.codeSize + UInt64(tableCapacity * Tracee.entrySize) + UInt64(payload)
    }

    init(tracee: Tracee, log: ((String) -> Void)?) {
        self.tracee = tracee
        self.log = log
    }

    /// Queues a call; a full trampoline is flushed first.
    func queue(_ number: Int, _ arguments: [SyscallArgument], payloads: [[UInt8]] = [], text: String,
               expected: Int64? = nil, pointers: [(payload: Int, at: Int, target: Int)] = [],
               advice: [Int32: String] = [:]) throws {
        let size = payloads.reduce(0) { $0 + Self.aligned($1.count) }
        guard size <= payloadCapacity else {
            throw BpfcpError("restore_failed", "\(text): its \(size) bytes of arguments exceed the trampoline's \(payloadCapacity)")
        }
        if queue.count == Self.tableCapacity || queuedPayloadBytes + size > payloadCapacity {
            try flush()
        }
        queue.append(InjectedCall(number: number, arguments: arguments, payloads: payloads, text: text,
                                  expected: expected, advice: advice, pointers: pointers))
        queuedPayloadBytes += size
    }

    /// Queues one call, runs everything queued and returns that call's result.
    @discardableResult
    func call(_ number: Int, _ arguments: [SyscallArgument], payloads: [[UInt8]] = [], text: String,
              expected: Int64? = nil, pointers: [(payload: Int, at: Int, target: Int)] = []) throws -> Int64 {
        try queue(number, arguments, payloads: payloads, text: text, expected: expected, pointers: pointers)
        return try flush().last ?? 0
    }

    /// Runs every queued call in order and returns their results. Throws on
    /// the first failing call, or on a result other than the expected one.
    @discardableResult
    func flush() throws -> [Int64] {
        guard !queue.isEmpty else { return [] }
        let calls = queue
        queue = []
        queuedPayloadBytes = 0

        var table = [UInt64](repeating: 0, count: calls.count * 8)
        var payload: [UInt8] = []
        for (i, call) in calls.enumerated() {
            var addresses: [UInt64] = []
            var starts: [Int] = []
            for bytes in call.payloads {
                addresses.append(payloadAddress + UInt64(payload.count))
                starts.append(payload.count)
                payload += bytes
                payload += [UInt8](repeating: 0, count: Self.aligned(bytes.count) - bytes.count)
            }
            for pointer in call.pointers {
                withUnsafeBytes(of: addresses[pointer.target].littleEndian) { bytes in
                    payload.replaceSubrange(starts[pointer.payload] + pointer.at ..< starts[pointer.payload] + pointer.at + 8, with: bytes)
                }
            }
            table[i * 8] = UInt64(call.number)
            for (j, argument) in call.arguments.prefix(6).enumerated() {
                switch argument {
                case .value(let v): table[i * 8 + 1 + j] = v
                case .payload(let index): table[i * 8 + 1 + j] = addresses[index]
                }
            }
        }
        if !payload.isEmpty { try tracee.write(payload, at: payloadAddress) }
        try table.withUnsafeBytes { try tracee.write($0, at: tableAddress) }

        let completed = try tracee.runStub(table: tableAddress, count: calls.count)
        let raw = try tracee.read(calls.count * Tracee.entrySize, at: tableAddress)
        let results = raw.withUnsafeBytes { buffer in
            (0..<calls.count).map { buffer.loadUnaligned(fromByteOffset: $0 * Tracee.entrySize + 56, as: Int64.self) }
        }
        return try check(calls, results: results, completed: completed)
    }

    private func check(_ calls: [InjectedCall], results: [Int64], completed: Int) throws -> [Int64] {
        for (i, call) in calls.enumerated() {
            let result = results[i]
            injectedCount += 1
            log?("\(call.text) = \(Self.describe(result, number: call.number))")
            if i == completed || (result < 0 && result >= -4095) {
                let code = Int32(-result)
                let advice = call.advice[code].map { "; " + $0 } ?? ""
                throw BpfcpError("restore_failed", "\(call.text) failed in restored process \(tracee.pid): \(String(cString: strerror(code)))\(advice)")
            }
            if let expected = call.expected, expected != result {
                throw BpfcpError("restore_failed", "\(call.text) returned \(result) in restored process \(tracee.pid), expected \(expected)")
            }
        }
        return results
    }

    private static func describe(_ result: Int64, number: Int) -> String {
        if result < 0 && result >= -4095 {
            return "-1 \(String(cString: strerror(Int32(-result))))"
        }
        let addressCalls = [SyscallNumber.mmap, SyscallNumber.mremap]
        return addressCalls.contains(number) ? Format.hex(UInt64(bitPattern: result)) : "\(result)"
    }

    private static func aligned(_ n: Int) -> Int {
        (n + 7) & ~7
    }
}
