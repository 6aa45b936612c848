/* The demo workload of `bpfcp-top --demo`, built into the bpfcp-top binary
 * and started by re-executing it with a hidden argument. */
#ifndef BPFCP_DEMO_H
#define BPFCP_DEMO_H

/* Hidden first argument that makes bpfcp-top run the demo workload. */
#define BPFCP_DEMO_ARGUMENT "--run-demo-workload"

/* Offsets of the demo's regular files, which the Files tab shows as POS. */
#define BPFCP_DEMO_NOTES_OFFSET 1234
#define BPFCP_DEMO_LOG_OFFSET 4096

/* Value queued with the demo's pending SIGUSR1. */
#define BPFCP_DEMO_SIGNAL_VALUE 42

/* Sets up the demo's state, prints "READY parent=PID child=PID dir=PATH" on
 * stdout and waits until killed. The parent and the child both die when the
 * process that started them dies (PR_SET_PDEATHSIG), and the parent then
 * removes its directory. Call it before any
 * thread exists, because it forks. Returns only on a setup failure, with
 * the exit status to use. */
int bpfcp_demo_main(void);

/* pipe2(fds, O_CLOEXEC), which Swift's Glibc module does not declare. */
int bpfcp_demo_pipe(int fds[2]);

#endif
