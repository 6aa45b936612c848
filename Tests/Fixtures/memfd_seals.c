/* Fixture: a sealable memfd "sealed data" holding 100 bytes at position 10
 * with F_SEAL_SHRINK | F_SEAL_GROW, an unsealed memfd "plain", and a tmpfs
 * file in /dev/shm named like a memfd, which is not one. Prints READY with
 * the fds, then waits. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(void)
{
	char data[100], fake_path[64];
	int sealed, plain, fake;

	memset(data, 'm', sizeof(data));
	sealed = memfd_create("sealed data", MFD_ALLOW_SEALING);
	plain = memfd_create("plain", MFD_CLOEXEC);
	snprintf(fake_path, sizeof(fake_path), "/dev/shm/memfd:fake-%d", getpid());
	fake = open(fake_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (sealed < 0 || plain < 0 || fake < 0 || write(sealed, data, sizeof(data)) != (ssize_t)sizeof(data) ||
	    lseek(sealed, 10, SEEK_SET) != 10 || fcntl(sealed, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) {
		perror("memfd");
		return 1;
	}
	unlink(fake_path);

	printf("READY sealed=%d plain=%d fake=%d\n", sealed, plain, fake);
	fflush(stdout);
	for (;;)
		pause();
}
