/* Known numbers of dirty pages in four areas:
 *   anon:         32 private anonymous pages between two PROT_NONE pages,
 *                 so that no neighbour merges with it; 7 written, 5 only
 *                 read (those map the zero page): 7 dirty;
 *   file_private: 16 pages of a file written and synced, mapped private
 *                 and writable; 6 read (clean page cache), 3 written
 *                 (copied on write): 3 dirty;
 *   cache_dirty:  8 pages of a file written with write() and not synced,
 *                 mapped private read-only, all read: 8 dirty, because
 *                 smaps counts dirty page cache pages, until writeback
 *                 cleans them;
 *   file_shared:  8 pages of a synced file mapped shared, 2 written: 2 dirty
 *                 until writeback.
 * Files live in a new directory under /tmp, printed as dir=.
 * Prints READY anon=HEX file_private=HEX cache_dirty=HEX file_shared=HEX dir=PATH. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096

static void fail(const char *what)
{
	perror(what);
	exit(1);
}

/* Creates dir/name with `pages` pages of 'x', synced when `sync_it`. */
static int make_file(const char *dir, const char *name, int pages, int sync_it)
{
	char path[256], page[PAGE];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		fail(path);
	memset(page, 'x', sizeof(page));
	for (int i = 0; i < pages; i++)
		if (write(fd, page, sizeof(page)) != sizeof(page))
			fail("write");
	if (sync_it && fsync(fd))
		fail("fsync");
	return fd;
}

static void *map(int pages, int prot, int flags, int fd)
{
	void *area = mmap(NULL, (size_t)pages * PAGE, prot, flags, fd, 0);

	if (area == MAP_FAILED)
		fail("mmap");
	return area;
}

int main(void)
{
	char dir[] = "/tmp/bpfcp-dirty-XXXXXX";
	volatile char sum = 0;

	if (!mkdtemp(dir))
		fail("mkdtemp");

	char *anon = (char *)map(34, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1) + PAGE;
	if (mprotect(anon, 32 * PAGE, PROT_READ | PROT_WRITE))
		fail("mprotect");
	for (int i = 0; i < 7; i++)
		anon[i * PAGE] = 1;
	for (int i = 10; i < 15; i++)
		sum += anon[i * PAGE];

	char *file_private = map(16, PROT_READ | PROT_WRITE, MAP_PRIVATE, make_file(dir, "private", 16, 1));
	for (int i = 0; i < 6; i++)
		sum += file_private[i * PAGE];
	for (int i = 8; i < 11; i++)
		file_private[i * PAGE] = 2;

	char *cache_dirty = map(8, PROT_READ, MAP_PRIVATE, make_file(dir, "unsynced", 8, 0));
	for (int i = 0; i < 8; i++)
		sum += cache_dirty[i * PAGE];

	char *file_shared = map(8, PROT_READ | PROT_WRITE, MAP_SHARED, make_file(dir, "shared", 8, 1));
	file_shared[0] = 3;
	file_shared[5 * PAGE] = 3;

	printf("READY anon=%lx file_private=%lx cache_dirty=%lx file_shared=%lx dir=%s\n", (unsigned long)anon,
	       (unsigned long)file_private, (unsigned long)cache_dirty, (unsigned long)file_shared, dir);
	fflush(stdout);
	for (;;)
		pause();
}
