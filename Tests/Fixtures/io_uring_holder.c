/* Holds an io_uring instance on an fd, set up with the raw system call. */
#include <stdio.h>
#include <string.h>
#include <linux/io_uring.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	struct io_uring_params params;
	int fd;

	memset(&params, 0, sizeof(params));
	fd = (int)syscall(__NR_io_uring_setup, 8, &params);
	if (fd < 0) {
		perror("io_uring_setup");
		return 1;
	}
	printf("READY ring_fd=%d\n", fd);
	fflush(stdout);
	for (;;)
		pause();
}
