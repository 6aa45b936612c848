/* A process whose threads keep appearing and exiting: a few spawner
 * threads each start a short-lived thread over and over. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static void *short_lived(void *arg)
{
	(void)arg;
	usleep(200);
	return NULL;
}

static void *spawner(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_t t;

		if (pthread_create(&t, NULL, short_lived, NULL) == 0)
			pthread_join(t, NULL);
	}
	return NULL;
}

int main(void)
{
	for (int i = 0; i < 4; i++) {
		pthread_t t;
		pthread_create(&t, NULL, spawner, NULL);
	}
	printf("READY spawners=4\n");
	fflush(stdout);
	for (;;)
		pause();
}
