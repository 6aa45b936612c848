/* Holds a memfd that is not mapped: 10000 patterned bytes at offset 0, a
 * hole, and "tail" at 1 MiB. fd_dup is a second fd on the same memfd. */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void)
{
	unsigned char data[10000];
	int fd = memfd_create("bpfcp-memfd", 0);

	for (int i = 0; i < (int)sizeof(data); i++)
		data[i] = (unsigned char)(i * 7);
	if (fd < 0 || write(fd, data, sizeof(data)) != sizeof(data) || pwrite(fd, "tail", 4, 1 << 20) != 4) {
		perror("memfd");
		return 1;
	}
	printf("READY fd=%d fd_dup=%d\n", fd, dup(fd));
	fflush(stdout);
	for (;;)
		pause();
}
