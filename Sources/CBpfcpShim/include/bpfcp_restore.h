/* C side of `bpfcp restore`: the child that restore drives with ptrace and
 * the syscall stub it runs (restore_child.c). */
#ifndef BPFCP_RESTORE_H
#define BPFCP_RESTORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Restore: clone3() a child (with pid set_tid when > 0) that drops the
 * restorer's rseq area, robust list, signal handlers and fds above 2, maps
 * tramp_len bytes at tramp holding the syscall stub in its first page
 * (read and execute, the rest read and write), then stops itself with
 * SIGSTOP under PTRACE_TRACEME. Returns the child's pid, or -1 with errno
 * set (EEXIST when set_tid is in use). A child that cannot get this far
 * exits with one of the BPFCP_SPAWN_EXIT_* codes. */
#define BPFCP_SPAWN_EXIT_MMAP 120
#define BPFCP_SPAWN_EXIT_TRACEME 121
#define BPFCP_SPAWN_EXIT_RESUMED 122
pid_t bpfcp_restore_spawn(pid_t set_tid, uint64_t tramp, uint64_t tramp_len);

/* Size of the syscall stub and offset of its syscall instruction. */
size_t bpfcp_stub_size(void);
size_t bpfcp_stub_syscall_offset(void);

#endif
