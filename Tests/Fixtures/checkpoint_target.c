/* Checkpoint target: a patterned anonymous region, a shared anonymous
 * region, a huge PROT_NONE reservation and sleeping threads.
 * Arguments: MiB of patterned memory (default 64), extra threads (default 2),
 * and "fork" to fork a child that shares the shared region, or "zombie" to
 * fork a child that exits with status 3 and is never reaped. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SHARED_SIZE (1 << 20)

static uint64_t pattern(uint64_t index)
{
	return (index * 0x9E3779B97F4A7C15ULL) ^ 0x5BD1E9955BD1E995ULL;
}

static void *sleeper(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	int threads = argc > 2 ? atoi(argv[2]) : 2;
	int do_fork = argc > 3 && strcmp(argv[3], "fork") == 0;
	int do_zombie = argc > 3 && strcmp(argv[3], "zombie") == 0;
	size_t size = mib << 20;
	uint64_t *region = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t *shared = mmap(NULL, SHARED_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	void *reserve = mmap(NULL, 16ULL << 40, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	pid_t child = 0;

	if (region == MAP_FAILED || shared == MAP_FAILED || reserve == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	for (size_t i = 0; i < size / 8; i++)
		region[i] = pattern(i);
	for (size_t i = 0; i < SHARED_SIZE / 8; i++)
		shared[i] = ~pattern(i);
	for (int i = 0; i < threads; i++) {
		pthread_t t;
		pthread_create(&t, NULL, sleeper, NULL);
	}
	if (do_fork) {
		child = fork();
		if (child == 0) {
			volatile uint64_t sum = 0;

			/* Touch the shared pages so they are present in the child too. */
			for (size_t i = 0; i < SHARED_SIZE / 8; i += 512)
				sum += shared[i];
			for (;;)
				pause();
		}
	}

	if (do_zombie) {
		child = fork();
		if (child == 0)
			_exit(3);
		while (kill(child, 0) == 0) {
			char path[64], state = 0;
			FILE *f;

			snprintf(path, sizeof(path), "/proc/%d/stat", child);
			f = fopen(path, "r");
			if (f && fscanf(f, "%*d %*s %c", &state) == 1 && state == 'Z') {
				fclose(f);
				break;
			}
			if (f)
				fclose(f);
			usleep(1000);
		}
	}

	printf("READY region=%lu size=%zu shared=%lu shared_size=%d reserve=%lu child=%d\n",
	       (unsigned long)region, size, (unsigned long)shared, SHARED_SIZE,
	       (unsigned long)reserve, child);
	fflush(stdout);
	for (;;)
		pause();
}
