import BpfcpTUI
import CBpfcpDemo
import Foundation

// The demo workload is this binary re-executed with a hidden argument. It
// forks, so it must run before anything starts a thread.
if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == BPFCP_DEMO_ARGUMENT {
    exit(bpfcp_demo_main())
}
exit(Top.main(Array(CommandLine.arguments.dropFirst())))
