/* Loading the saved pages of a restored process with userfaultfd
 * (pageload.c): UFFDIO_COPY puts each page in place already filled, so the
 * kernel neither zeroes it first nor takes a page fault for it. */
#ifndef BPFCP_PAGELOAD_H
#define BPFCP_PAGELOAD_H

#include <stdint.h>
#include <sys/types.h>

/* Copies the userfaultfd `remote_fd` of process `pid` into this process
 * (pidfd_getfd) and enables its API. Returns the new fd, or -errno. */
int bpfcp_uffd_take(pid_t pid, int remote_fd);

/* Registers [start, start + len) of the uffd's address space for
 * missing-page handling. Returns 0 or -errno. */
int bpfcp_uffd_register(int uffd, uint64_t start, uint64_t len);

/* Undoes bpfcp_uffd_register. Returns 0 or -errno. */
int bpfcp_uffd_unregister(int uffd, uint64_t start, uint64_t len);

/* Copies len bytes from src in this process to dst in the uffd's address
 * space, page-aligned, retrying after EAGAIN. Returns the bytes copied:
 * fewer than len when a page at dst + result already exists (EEXIST) or
 * on another error, whose -errno goes to *error. */
int64_t bpfcp_uffd_copy(int uffd, uint64_t dst, const void *src, uint64_t len, int *error);

#endif
