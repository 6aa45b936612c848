/* Fixture: an inotify fd with two watches (a directory with IN_CREATE |
 * IN_DELETE, a file with IN_MODIFY | IN_ONESHOT | IN_EXCL_UNLINK) and a
 * fanotify fd with an inode mark on the file (FAN_MODIFY | FAN_CLOSE_WRITE)
 * and a mount mark on the directory's mount (FAN_OPEN). Prints READY with
 * the fds, watch descriptors and paths, then waits. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void)
{
	char base[] = "/tmp/bpfcp-notify-XXXXXX";
	char dir[256], file[256];
	int in, fan, wd_dir, wd_file, fd;

	if (!mkdtemp(base))
		return 1;
	snprintf(dir, sizeof(dir), "%s/watched dir", base);
	snprintf(file, sizeof(file), "%s/file.txt", dir);
	if (mkdir(dir, 0700) != 0 || (fd = open(file, O_WRONLY | O_CREAT, 0600)) < 0) {
		perror(dir);
		return 1;
	}
	close(fd);

	in = inotify_init1(IN_NONBLOCK);
	wd_dir = inotify_add_watch(in, dir, IN_CREATE | IN_DELETE);
	wd_file = inotify_add_watch(in, file, IN_MODIFY | IN_ONESHOT | IN_EXCL_UNLINK);
	fan = fanotify_init(FAN_CLASS_NOTIF, O_RDONLY);
	if (in < 0 || wd_dir < 0 || wd_file < 0 || fan < 0 ||
	    fanotify_mark(fan, FAN_MARK_ADD, FAN_MODIFY | FAN_CLOSE_WRITE, AT_FDCWD, file) != 0 ||
	    fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_MOUNT, FAN_OPEN, AT_FDCWD, dir) != 0) {
		perror("inotify/fanotify");
		return 1;
	}

	/* The directory path contains a space, so it is printed last. */
	printf("READY inotify=%d fanotify=%d wd_dir=%d wd_file=%d file=%s dir=%s\n", in, fan, wd_dir, wd_file, file, dir);
	fflush(stdout);
	for (;;)
		pause();
}
