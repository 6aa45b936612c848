/* Fixture: one open file of each type the files kind names, with set open
 * flags and exactly one close-on-exec fd: regular files with O_NONBLOCK,
 * O_APPEND|O_SYNC and O_NOATIME, a deleted file, both ends of a pipe, a FIFO,
 * a directory, /dev/null, and an O_PATH|O_NOFOLLOW fd on a symlink whose
 * target does not exist. Prints READY with the fds, then waits. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int open_or_die(const char *path, int flags)
{
	int fd = open(path, flags, 0600);

	if (fd < 0) {
		perror(path);
		exit(1);
	}
	return fd;
}

int main(void)
{
	char dir[] = "/tmp/bpfcp-kinds-XXXXXX";
	char plain[256], sync[256], noatime[256], gone[256], fifo[256], link[256];
	int nonblock_fd, sync_fd, noatime_fd, gone_fd, fifo_fd, dir_fd, null_fd, link_fd, pipefd[2];

	if (!mkdtemp(dir))
		return 1;
	snprintf(plain, sizeof(plain), "%s/plain", dir);
	snprintf(sync, sizeof(sync), "%s/sync", dir);
	snprintf(noatime, sizeof(noatime), "%s/noatime", dir);
	snprintf(gone, sizeof(gone), "%s/gone", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(link, sizeof(link), "%s/dangling", dir);

	nonblock_fd = open_or_die(plain, O_RDONLY | O_CREAT | O_NONBLOCK);
	sync_fd = open_or_die(sync, O_WRONLY | O_CREAT | O_APPEND | O_SYNC | O_CLOEXEC);
	noatime_fd = open_or_die(noatime, O_RDWR | O_CREAT | O_NOATIME);
	gone_fd = open_or_die(gone, O_RDWR | O_CREAT);
	if (write(gone_fd, "twelve bytes", 12) != 12)
		return 1;
	unlink(gone);
	if (pipe(pipefd) != 0 || mkfifo(fifo, 0600) != 0 || symlink("/nonexistent/target", link) != 0)
		return 1;
	fifo_fd = open_or_die(fifo, O_RDWR);
	dir_fd = open_or_die(dir, O_RDONLY | O_DIRECTORY);
	null_fd = open_or_die("/dev/null", O_WRONLY);
	link_fd = open_or_die(link, O_PATH | O_NOFOLLOW);

	printf("READY dir=%s nonblock=%d sync=%d noatime=%d gone=%d pipe_r=%d pipe_w=%d fifo=%d dirfd=%d null=%d link=%d\n",
	       dir, nonblock_fd, sync_fd, noatime_fd, gone_fd, pipefd[0], pipefd[1], fifo_fd, dir_fd, null_fd, link_fd);
	fflush(stdout);
	for (;;)
		pause();
}
