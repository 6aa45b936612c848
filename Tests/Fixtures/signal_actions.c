/* Known signal dispositions, a sigaltstack and a second thread with its own
 * blocked mask, for the signals kinds. */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)	/* linux/signal.h, which clashes with glibc signal.h */
#endif

static void on_usr2(int sig, siginfo_t *info, void *context)
{
	(void)sig;
	(void)info;
	(void)context;
}

static sem_t worker_ready;
static long worker_tid;

static void *worker(void *arg)
{
	sigset_t set;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGWINCH);
	pthread_sigmask(SIG_SETMASK, &set, NULL);
	worker_tid = syscall(SYS_gettid);
	sem_post(&worker_ready);
	for (;;)
		pause();
	return NULL;
}

int main(void)
{
	struct sigaction sa = { 0 };
	stack_t ss = { 0 };
	pthread_t thread;

	sa.sa_sigaction = on_usr2;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaction(SIGUSR2, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	ss.ss_sp = malloc(65536);
	ss.ss_size = 65536;
	ss.ss_flags = SS_AUTODISARM;
	if (sigaltstack(&ss, NULL) != 0) {
		perror("sigaltstack");
		return 1;
	}

	/* The worker starts after the main thread blocks SIGTERM, inherits it, then sets its own mask. */
	sigset_t main_mask;
	sigemptyset(&main_mask);
	sigaddset(&main_mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &main_mask, NULL);
	sem_init(&worker_ready, 0, 0);
	pthread_create(&thread, NULL, worker, ss.ss_sp);

	/* READY comes from the main thread after pthread_create() returns,
	 * because glibc blocks every signal in the creating thread while it
	 * clones, and a reader must not see that passing mask. */
	sem_wait(&worker_ready);
	printf("READY handler=%p altstack=%p altsize=%d worker=%ld\n", (void *)on_usr2, ss.ss_sp, 65536, worker_tid);
	fflush(stdout);
	for (;;)
		pause();
}
