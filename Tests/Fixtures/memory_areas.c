/* Fixture: memory areas of known size, protection, flags and residency, and
 * a child that shares three objects with the parent (shared anonymous memory,
 * a memfd and a SysV segment), so that their identity can be compared across
 * the two processes. Prints READY with the addresses, then waits. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PAGE 4096UL
#define RESERVATION (16UL << 40)

static void *map_or_die(size_t len, int prot, int flags, int fd, off_t offset)
{
	void *p = mmap(NULL, len, prot, flags, fd, offset);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

/* Maps pages with protection prot between two PROT_NONE guard pages, so that
 * the kernel cannot merge the area with a neighbour and its bounds are exact. */
static char *isolated(size_t pages, int prot)
{
	char *p = map_or_die((pages + 2) * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mprotect(p + PAGE, pages * PAGE, prot) != 0) {
		perror("mprotect");
		exit(1);
	}
	return p + PAGE;
}

/* Maps an anonymous private area and applies one madvise() advice to it. */
static char *advised(size_t pages, int advice)
{
	char *p = map_or_die(pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (madvise(p, pages * PAGE, advice) != 0) {
		perror("madvise");
		exit(1);
	}
	return p;
}

int main(void)
{
	char dir[] = "/tmp/bpfcp-memory-XXXXXX";
	char path[256];
	volatile char sink = 0;
	char *rw, *ro, *file_map, *shmem, *memfd_map, *sysv, *locked, *growsdown, *reserve, *sealed;
	char *dontdump, *dontfork, *wipe, *seq;
	int file_fd, memfd, shmid;
	pid_t child;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/mapped", dir);

	/* 16 pages read-write, 5 of them written. */
	rw = isolated(16, PROT_READ | PROT_WRITE);
	for (int i = 0; i < 5; i++)
		rw[i * PAGE] = 1;

	/* 8 pages read-only, 3 of them read: those map the shared zero page, which is not resident memory. */
	ro = isolated(8, PROT_READ);
	for (int i = 0; i < 3; i++)
		sink += ro[i * PAGE];

	/* A shared mapping of pages 1-3 of a 4-page file, 2 pages written. */
	file_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (file_fd < 0 || ftruncate(file_fd, 4 * PAGE) != 0)
		return 1;
	file_map = map_or_die(3 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, file_fd, PAGE);
	file_map[0] = 1;
	file_map[2 * PAGE] = 1;

	shmem = map_or_die(4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(shmem, 1, 4 * PAGE);
	memfd = memfd_create("bpfcp-memfd", 0);
	if (memfd < 0 || ftruncate(memfd, 2 * PAGE) != 0)
		return 1;
	memfd_map = map_or_die(2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	memfd_map[0] = 1;
	shmid = shmget(IPC_PRIVATE, 3 * PAGE, IPC_CREAT | 0600);
	sysv = shmid < 0 ? (char *)-1 : shmat(shmid, NULL, 0);
	if (sysv == (char *)-1)
		return 1;
	shmctl(shmid, IPC_RMID, NULL);
	sysv[PAGE] = 1;

	locked = map_or_die(2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mlock(locked, 2 * PAGE) != 0)
		return 1;
	growsdown = map_or_die(4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, -1, 0);
	reserve = map_or_die(RESERVATION, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	dontdump = advised(2, MADV_DONTDUMP);
	dontfork = advised(2, MADV_DONTFORK);
	wipe = advised(2, MADV_WIPEONFORK);
	seq = advised(2, MADV_SEQUENTIAL);
	sealed = map_or_die(PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (syscall(462, sealed, PAGE, 0) != 0) /* mseal(2), Linux 6.10 and later */
		return 1;
	/* The heap: [heap] appears once brk has grown. */
	if (sbrk(16 * PAGE) == (void *)-1)
		return 1;

	child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		for (;;)
			pause();
	}

	printf("READY dir=%s file=%s child=%d rw=%lx ro=%lx file_map=%lx shmem=%lx memfd=%lx sysv=%lx "
	       "locked=%lx growsdown=%lx reserve=%lx dontdump=%lx dontfork=%lx wipe=%lx seq=%lx sealed=%lx\n",
	       dir, path, child, (unsigned long)rw, (unsigned long)ro, (unsigned long)file_map,
	       (unsigned long)shmem, (unsigned long)memfd_map, (unsigned long)sysv, (unsigned long)locked,
	       (unsigned long)growsdown, (unsigned long)reserve, (unsigned long)dontdump,
	       (unsigned long)dontfork, (unsigned long)wipe, (unsigned long)seq, (unsigned long)sealed);
	fflush(stdout);
	for (;;)
		pause();
}
