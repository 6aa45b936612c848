/* Fixture: the main thread and WORKERS threads, each named with
 * pthread_setname_np ("worker-0"...), all waiting in pause(). Prints READY
 * with the thread ids in creation order, then waits to be killed. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define WORKERS 4

static pid_t worker_tids[WORKERS];
static pthread_barrier_t started;

static void *worker(void *arg)
{
	int index = (int)(long)arg;
	char name[16];

	snprintf(name, sizeof(name), "worker-%d", index);
	pthread_setname_np(pthread_self(), name);
	worker_tids[index] = gettid();
	pthread_barrier_wait(&started);
	for (;;)
		pause();
	return NULL;
}

int main(void)
{
	pthread_t threads[WORKERS];

	pthread_barrier_init(&started, NULL, WORKERS + 1);
	for (long i = 0; i < WORKERS; i++)
		pthread_create(&threads[i], NULL, worker, (void *)i);
	pthread_barrier_wait(&started);

	printf("READY threads=%d tids=%d", WORKERS + 1, getpid());
	for (int i = 0; i < WORKERS; i++)
		printf(",%d", worker_tids[i]);
	printf("\n");
	fflush(stdout);
	for (;;)
		pause();
}
