/* Page counts per memory area from ioctl(PAGEMAP_SCAN) on /proc/PID/pagemap
 * (Linux 6.7 and later). */
#ifndef BPFCP_PAGEMAP_H
#define BPFCP_PAGEMAP_H

#include <stddef.h>
#include <stdint.h>

/* Counts, for each of the n areas [starts[i], ends[i]) (sorted, not
 * overlapping), the pages present in RAM (the shared zero page excluded,
 * as /proc/PID/smaps Rss excludes it) and the pages swapped out. The whole
 * range is scanned with a few ioctls, and unpopulated page tables cost
 * nothing. Returns 0, or a negative errno with one line in err. */
int bpfcp_pagemap_counts(int pid, size_t n, const uint64_t *starts, const uint64_t *ends,
			 uint64_t *resident, uint64_t *swapped, char *err, size_t err_len);

#endif
