/* Content hashes of memory pages, so that two captures can be compared page
 * by page without keeping or rereading the pages themselves. */
#ifndef BPFCP_PAGEHASH_H
#define BPFCP_PAGEHASH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* 64-bit hash of len bytes. Not cryptographic: it finds changed pages, and
 * two different pages collide with a probability of about 2^-64. */
uint64_t bpfcp_page_hash(const void *data, size_t len);

/* Hashes `pages` consecutive pages of page_size bytes at data into out[0..pages). */
void bpfcp_page_hashes(const void *data, size_t pages, size_t page_size, uint64_t *out);

/* Address of the struct rseq that thread tid registered (PTRACE_GET_RSEQ_CONFIGURATION,
 * Linux 5.13). The thread must be in a ptrace stop. Stores 0 when it has none.
 * Returns 0 or -errno. */
int bpfcp_get_rseq_area(pid_t tid, uint64_t *address);

/* The kernel rewrites cpu_id_start, cpu_id, node_id and mm_cid of a
 * registered struct rseq each time the thread returns to user space, so a
 * capture, which stops and resumes every thread, changes them. This zeroes
 * those fields of the 32-byte struct rseq at byte `offset` of page. */
void bpfcp_clear_rseq_fields(void *page, size_t page_size, size_t offset);

#endif
