import CBpfcpShim
import Foundation

/// Reads the registers and signal mask of one held thread.
enum ThreadCapture {
    static func capture(_ tid: Int32) throws -> ThreadState {
        var values = [UInt64](repeating: 0, count: Int(BPFCP_USER_REGS_COUNT))
        let rc = bpfcp_get_user_regs(tid, &values)
        guard rc == 0 else { throw BpfcpError.system("PTRACE_GETREGS of thread \(tid)", -rc) }
        var registers: [String: UInt64] = [:]
        for (index, value) in values.enumerated() {
            registers[String(cString: bpfcp_user_reg_name(Int32(index)))] = value
        }

        var xsave = [UInt8](repeating: 0, count: 64 << 10)
        let length = bpfcp_get_xstate(tid, &xsave, xsave.count)
        guard length >= 0 else { throw BpfcpError.system("PTRACE_GETREGSET NT_X86_XSTATE of thread \(tid)", Int32(-length)) }

        var mask: UInt64 = 0
        let maskRc = bpfcp_get_sigmask(tid, &mask)
        guard maskRc == 0 else { throw BpfcpError.system("PTRACE_GETSIGMASK of thread \(tid)", -maskRc) }
        var rseq: UInt64 = 0
        let rseqArea = bpfcp_get_rseq_area(tid, &rseq) == 0 && rseq != 0 ? rseq : nil
        return ThreadState(tid: tid, registers: registers, sigmask: mask, xsave: Data(xsave[0..<length]), rseqArea: rseqArea)
    }
}
