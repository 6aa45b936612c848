/* userfaultfd helpers for loading the pages of a restored process; see
 * bpfcp_pageload.h. The uffd is created by the restored process itself
 * (an injected userfaultfd()), because it belongs to the address space of
 * its creator, and copied here so that UFFDIO_COPY reads its source from
 * restore's own mapping of pages.img. */
#define _GNU_SOURCE
#include <errno.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>
#include "bpfcp_pageload.h"

int bpfcp_uffd_take(pid_t pid, int remote_fd)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	int pidfd, uffd, err;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -errno;
	uffd = (int)syscall(SYS_pidfd_getfd, pidfd, remote_fd, 0);
	err = errno;
	close(pidfd);
	if (uffd < 0)
		return -err;
	if (ioctl(uffd, UFFDIO_API, &api) != 0) {
		err = errno;
		close(uffd);
		return -err;
	}
	return uffd;
}

int bpfcp_uffd_register(int uffd, uint64_t start, uint64_t len)
{
	struct uffdio_register reg = {
		.range = { .start = start, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	return ioctl(uffd, UFFDIO_REGISTER, &reg) == 0 ? 0 : -errno;
}

int bpfcp_uffd_unregister(int uffd, uint64_t start, uint64_t len)
{
	struct uffdio_range range = { .start = start, .len = len };

	return ioctl(uffd, UFFDIO_UNREGISTER, &range) == 0 ? 0 : -errno;
}

int64_t bpfcp_uffd_copy(int uffd, uint64_t dst, const void *src, uint64_t len, int *error)
{
	uint64_t done = 0;
	int retries = 0;

	*error = 0;
	while (done < len) {
		struct uffdio_copy copy = {
			.dst = dst + done,
			.src = (uint64_t)(uintptr_t)src + done,
			.len = len - done,
			.mode = UFFDIO_COPY_MODE_DONTWAKE,
		};
		int rc = ioctl(uffd, UFFDIO_COPY, &copy);

		if (copy.copy > 0) {
			done += (uint64_t)copy.copy;
			retries = 0;
		}
		if (rc == 0)
			continue;
		/* EAGAIN: the address space was changing; bounded, because
		 * nothing else runs in the stopped process to change it. */
		if ((errno == EAGAIN || errno == EINTR) && ++retries < 100)
			continue;
		*error = errno;
		break;
	}
	return (int64_t)done;
}
