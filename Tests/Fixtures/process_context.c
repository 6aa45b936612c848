/* Known process context: limits, umask, cwd, CPU affinity, nice,
 * personality, interval timers, POSIX timers, a child of the main thread
 * and a child forked by a second thread. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static pid_t thread_child;

static pid_t spawn_sleeper(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

static void *forker(void *arg)
{
	(void)arg;
	thread_child = spawn_sleeper();
	for (;;)
		pause();
	return NULL;
}

static int set_limits(void)
{
	struct rlimit nofile = { .rlim_cur = 512, .rlim_max = 1024 };
	struct rlimit core = { .rlim_cur = 4096, .rlim_max = RLIM_INFINITY };
	struct rlimit cpu = { .rlim_cur = 3600, .rlim_max = 7200 };

	if (setrlimit(RLIMIT_NOFILE, &nofile) || setrlimit(RLIMIT_CORE, &core) || setrlimit(RLIMIT_CPU, &cpu))
		return -1;
	return 0;
}

static int set_timers(void)
{
	struct itimerval real = { .it_interval = { 250, 0 }, .it_value = { 500, 0 } };
	struct itimerval virt = { .it_interval = { 3, 0 }, .it_value = { 7, 0 } };
	struct sigevent signal_event = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN + 2 };
	struct sigevent none_event = { .sigev_notify = SIGEV_NONE };
	struct itimerspec mono = { .it_interval = { 2, 0 }, .it_value = { 100, 0 } };
	struct itimerspec cpu = { .it_interval = { 0, 0 }, .it_value = { 50, 0 } };
	timer_t first, second;

	signal_event.sigev_value.sival_int = 4660;
	if (setitimer(ITIMER_REAL, &real, NULL) || setitimer(ITIMER_VIRTUAL, &virt, NULL))
		return -1;
	if (timer_create(CLOCK_MONOTONIC, &signal_event, &first) || timer_settime(first, 0, &mono, NULL))
		return -1;
	if (timer_create(CLOCK_PROCESS_CPUTIME_ID, &none_event, &second) || timer_settime(second, 0, &cpu, NULL))
		return -1;
	return 0;
}

int main(void)
{
	char dir[] = "/tmp/bpfcp-context-XXXXXX";
	cpu_set_t cpus;
	pthread_t thread;
	pid_t child;

	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	if (set_limits() || sched_setaffinity(0, sizeof(cpus), &cpus) || setpriority(PRIO_PROCESS, 0, 7)) {
		perror("limits, affinity or nice");
		return 1;
	}
	if (!mkdtemp(dir) || chdir(dir) || personality(PER_LINUX | ADDR_NO_RANDOMIZE) < 0) {
		perror("cwd or personality");
		return 1;
	}
	umask(027);
	rmdir(dir);
	if (set_timers()) {
		perror("timers");
		return 1;
	}

	child = spawn_sleeper();
	pthread_create(&thread, NULL, forker, NULL);
	while (!__atomic_load_n(&thread_child, __ATOMIC_SEQ_CST))
		usleep(1000);
	printf("READY dir=%s child=%d thread_child=%d\n", dir, child, thread_child);
	fflush(stdout);
	for (;;)
		pause();
}
