/* Page writer: keeps HEAP pages in [heap] (from sbrk) and STACK pages in
 * [stack] (a local array of main), all written once before READY. Each
 * SIGUSR1 writes a new value into the first byte of every one of them and
 * prints WROTE. The handler runs on an alternate signal stack, so the
 * signal frame does not change [stack], and main only waits in pause(),
 * which rewrites the stack page under it with the same values each time.
 * Arguments: HEAP and STACK page counts (default 37 and 2). */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096
#define MAX_STACK_PAGES 64

static volatile unsigned char *heap_pages;
static volatile unsigned char *stack_pages;
static long heap_count;
static long stack_count;
static volatile unsigned char generation = 1;

static void on_usr1(int sig)
{
	(void)sig;
	generation++;
	for (long i = 0; i < heap_count; i++)
		heap_pages[i * PAGE] = generation;
	for (long i = 0; i < stack_count; i++)
		stack_pages[i * PAGE] = generation;
	(void)!write(1, "WROTE\n", 6);
}

static unsigned char *page_align(unsigned char *p)
{
	return (unsigned char *)(((uintptr_t)p + PAGE - 1) & ~(uintptr_t)(PAGE - 1));
}

int main(int argc, char **argv)
{
	unsigned char stack_area[(MAX_STACK_PAGES + 1) * PAGE];
	unsigned char *heap_area;
	struct sigaction action;
	stack_t alternate;

	heap_count = argc > 1 ? atol(argv[1]) : 37;
	stack_count = argc > 2 ? atol(argv[2]) : 2;
	if (stack_count > MAX_STACK_PAGES)
		stack_count = MAX_STACK_PAGES;

	heap_area = sbrk((heap_count + 1) * PAGE);
	if (heap_area == (void *)-1) {
		perror("sbrk");
		return 1;
	}
	heap_pages = page_align(heap_area);
	stack_pages = page_align(stack_area);
	memset((void *)heap_pages, 1, heap_count * PAGE);
	memset((void *)stack_pages, 1, stack_count * PAGE);

	alternate.ss_sp = mmap(NULL, 4 * SIGSTKSZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	alternate.ss_size = 4 * SIGSTKSZ;
	alternate.ss_flags = 0;
	if (alternate.ss_sp == MAP_FAILED || sigaltstack(&alternate, NULL) != 0) {
		perror("sigaltstack");
		return 1;
	}
	memset(&action, 0, sizeof(action));
	action.sa_handler = on_usr1;
	action.sa_flags = SA_ONSTACK | SA_RESTART;
	sigaction(SIGUSR1, &action, NULL);

	printf("READY heap=%p stack=%p heap_pages=%ld stack_pages=%ld\n", (void *)heap_pages, (void *)stack_pages,
	       heap_count, stack_count);
	fflush(stdout);
	for (;;)
		pause();
}
