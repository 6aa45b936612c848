/* Page counts per memory area with ioctl(PAGEMAP_SCAN). Debian 12's headers
 * predate it, so the ABI from the kernel's include/uapi/linux/fs.h is
 * declared here. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include "bpfcp_pagemap.h"

struct pm_page_region {
	uint64_t start;
	uint64_t end;
	uint64_t categories;
};

struct pm_scan_arg {
	uint64_t size;
	uint64_t flags;
	uint64_t start;
	uint64_t end;
	uint64_t walk_end;
	uint64_t vec;
	uint64_t vec_len;
	uint64_t max_pages;
	uint64_t category_inverted;
	uint64_t category_mask;
	uint64_t category_anyof_mask;
	uint64_t return_mask;
};

#define PM_PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PM_PAGE_IS_PRESENT (1 << 3)
#define PM_PAGE_IS_SWAPPED (1 << 4)
#define PM_PAGE_IS_PFNZERO (1 << 5)

#define REGIONS_PER_CALL 4096
#define PAGE_SHIFT_4K 12

/* Adds one region, which may span several areas, to the areas it covers.
 * *area is the first area that can still overlap, since regions arrive in
 * ascending order. */
static void account_region(const struct pm_page_region *r, size_t n, const uint64_t *starts,
			   const uint64_t *ends, uint64_t *resident, uint64_t *swapped, size_t *area)
{
	int is_resident = (r->categories & PM_PAGE_IS_PRESENT) && !(r->categories & PM_PAGE_IS_PFNZERO);
	int is_swapped = (r->categories & PM_PAGE_IS_SWAPPED) != 0;

	while (*area < n && ends[*area] <= r->start)
		(*area)++;
	for (size_t i = *area; i < n && starts[i] < r->end; i++) {
		uint64_t lo = r->start > starts[i] ? r->start : starts[i];
		uint64_t hi = r->end < ends[i] ? r->end : ends[i];
		uint64_t pages;

		if (hi <= lo)
			continue;
		pages = (hi - lo) >> PAGE_SHIFT_4K;
		if (is_resident)
			resident[i] += pages;
		if (is_swapped)
			swapped[i] += pages;
	}
}

int bpfcp_pagemap_counts(int pid, size_t n, const uint64_t *starts, const uint64_t *ends,
			 uint64_t *resident, uint64_t *swapped, char *err, size_t err_len)
{
	struct pm_page_region *vec;
	struct pm_scan_arg arg;
	char path[64];
	size_t area = 0;
	uint64_t end;
	int fd, rc = 0;

	memset(resident, 0, n * sizeof(*resident));
	memset(swapped, 0, n * sizeof(*swapped));
	if (n == 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, err_len, "opening %s failed: %s", path, strerror(errno));
		return rc;
	}
	vec = malloc(REGIONS_PER_CALL * sizeof(*vec));
	if (!vec) {
		close(fd);
		snprintf(err, err_len, "out of memory scanning %s", path);
		return -ENOMEM;
	}

	memset(&arg, 0, sizeof(arg));
	arg.size = sizeof(arg);
	arg.start = starts[0];
	end = ends[n - 1];
	arg.vec = (uint64_t)(uintptr_t)vec;
	arg.vec_len = REGIONS_PER_CALL;
	arg.category_anyof_mask = PM_PAGE_IS_PRESENT | PM_PAGE_IS_SWAPPED;
	arg.return_mask = PM_PAGE_IS_PRESENT | PM_PAGE_IS_SWAPPED | PM_PAGE_IS_PFNZERO;

	while (arg.start < end) {
		long found;

		arg.end = end;
		found = ioctl(fd, PM_PAGEMAP_SCAN, &arg);
		if (found < 0) {
			rc = -errno;
			snprintf(err, err_len, "PAGEMAP_SCAN on %s failed: %s", path, strerror(errno));
			break;
		}
		for (long i = 0; i < found; i++)
			account_region(&vec[i], n, starts, ends, resident, swapped, &area);
		if (arg.walk_end <= arg.start)
			break;
		arg.start = arg.walk_end;
	}
	free(vec);
	close(fd);
	return rc;
}
