/* Known numbers of swapped pages, for a test that enables a swap file first:
 *   area:  64 private anonymous pages between two PROT_NONE pages, so that
 *          no neighbour merges with it; all 64 written, then pages 8 to 31
 *          (24 pages) pushed out with MADV_PAGEOUT: 40 resident, 24 swapped;
 *   guard: 8 private anonymous pages, all written, with guard markers
 *          installed on pages 2 to 4 (MADV_GUARD_INSTALL): 5 resident and
 *          none swapped, although the markers are non-present entries.
 * MADV_PAGEOUT starts writeback and returns; the test waits for smaps.
 * Prints READY area=HEX pages=64 out=24 guard=HEX (guard=0 when the kernel
 * has no guard markers). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096
#define PAGES 64
#define OUT_FIRST 8
#define OUT_PAGES 24
#define GUARD_PAGES 8

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

static void fail(const char *what)
{
	perror(what);
	exit(1);
}

/* Maps `pages` writable pages between two PROT_NONE pages and writes each
 * with its own bytes, so that no page is a same-filled one. */
static char *written_area(int pages)
{
	char *outer = mmap(NULL, (size_t)(pages + 2) * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *area;

	if (outer == MAP_FAILED)
		fail("mmap");
	area = outer + PAGE;
	if (mprotect(area, (size_t)pages * PAGE, PROT_READ | PROT_WRITE))
		fail("mprotect");
	if (madvise(area, (size_t)pages * PAGE, MADV_NOHUGEPAGE))
		fail("madvise(MADV_NOHUGEPAGE)");
	for (int i = 0; i < pages; i++)
		for (int j = 0; j < PAGE; j += 64)
			area[(size_t)i * PAGE + j] = (char)(i + j / 64 + 1);
	return area;
}

int main(void)
{
	char *area = written_area(PAGES);
	char *guard = written_area(GUARD_PAGES);

	if (madvise(area + OUT_FIRST * PAGE, OUT_PAGES * PAGE, MADV_PAGEOUT))
		fail("madvise(MADV_PAGEOUT)");
	if (madvise(guard + 2 * PAGE, 3 * PAGE, MADV_GUARD_INSTALL))
		guard = NULL;

	printf("READY area=%lx pages=%d out=%d guard=%lx\n", (unsigned long)area, PAGES, OUT_PAGES,
	       (unsigned long)guard);
	fflush(stdout);
	for (;;)
		pause();
}
