/* Fixture for restore of timers, scheduling and personality. Usage:
 * restore_timers DIR [cpu|alarm|pending].
 * Without a mode it runs under SCHED_BATCH with nice 5 and the personality
 * ADDR_NO_RANDOMIZE. ITIMER_REAL expires in 500 s, then every 250 s. Three
 * POSIX timers have the sparse ids left after deleting three others:
 *   A: SIGEV_SIGNAL, SIGRTMIN+3, value 0xabc123, 600 s, then every 7 s;
 *   B: SIGEV_THREAD_ID to a second thread, SIGRTMIN+4, value 0x5150, 700 s, then every 11 s;
 *   C: SIGEV_NONE on CLOCK_BOOTTIME, value 0x77, 800 s, then every 13 s.
 * On SIGUSR1 it checks all of these, then rearms A and B to expire at once
 * and checks the signal each sends, and writes "pass" or "fail REASON" to
 * DIR/result.
 * With "cpu" it also arms ITIMER_VIRTUAL, whose time left a checkpoint does
 * not record, so restore must reject it.
 * With "alarm", ITIMER_REAL expires after 1 ms, then every 200 ms, while
 * SIGALRM is blocked, so the kernel stops it until SIGALRM is taken. Its
 * check unblocks SIGALRM and waits for a second one from the restarted timer.
 * With "pending", timer A expires after 1 ms while its signal is blocked,
 * so its siginfo is queued, which restore must reject. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "restore_check.h"

#define SECOND 1000000000ll
#define FAIL(...) do { snprintf(why, len, __VA_ARGS__); return 0; } while (0)

struct timer_setup {
	int clock, notify;
	uintptr_t value;
	long long first_ns, interval_ns;
};

static const struct timer_setup setups[3] = {
	{ CLOCK_MONOTONIC, SIGEV_SIGNAL, 0xabc123, 600 * SECOND, 7 * SECOND },
	{ CLOCK_MONOTONIC, SIGEV_THREAD_ID, 0x5150, 700 * SECOND, 11 * SECOND },
	{ CLOCK_BOOTTIME, SIGEV_NONE, 0x77, 800 * SECOND, 13 * SECOND },
};

static int ids[3], deleted[3];
static long long armed_at[3];
static long long real_armed_at;
static int alarm_mode;
static volatile sig_atomic_t alarm_count;
static volatile pid_t worker_tid;
static volatile sig_atomic_t a_count, b_count;
static volatile uintptr_t a_value, b_value;
static volatile int a_timer, a_code;
static volatile pid_t a_tid, b_tid;

static pid_t own_tid(void) { return (pid_t)syscall(SYS_gettid); }

static long long now_ns(int clock)
{
	struct timespec now;
	clock_gettime(clock, &now);
	return now.tv_sec * SECOND + now.tv_nsec;
}

static int signal_of(int i)
{
	if (i == 0)
		return SIGRTMIN + 3;
	if (i == 1)
		return SIGRTMIN + 4;
	return 0;
}

static void on_a(int sig, siginfo_t *info, void *context)
{
	(void)sig; (void)context;
	a_value = (uintptr_t)info->si_value.sival_ptr;
	a_timer = info->si_timerid;
	a_code = info->si_code;
	a_tid = own_tid();
	a_count++;
}

static void on_b(int sig, siginfo_t *info, void *context)
{
	(void)sig; (void)context;
	b_value = (uintptr_t)info->si_value.sival_ptr;
	b_tid = own_tid();
	b_count++;
}

/* Takes SIGRTMIN+4 from timer B. It blocks A's signal and SIGUSR1, so that they go to the main thread. */
static void *worker(void *unused)
{
	(void)unused;
	sigset_t blocked;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGRTMIN + 3);
	sigaddset(&blocked, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &blocked, NULL);
	worker_tid = own_tid();
	for (;;)
		pause();
	return NULL;
}

static int create_timer(int clock, int notify, int signal, uintptr_t value, pid_t tid)
{
	struct sigevent event;
	memset(&event, 0, sizeof(event));
	event.sigev_notify = notify;
	event.sigev_signo = signal;
	event.sigev_value.sival_ptr = (void *)value;
	event._sigev_un._tid = tid;
	int id = -1;
	if (syscall(SYS_timer_create, clock, &event, &id) != 0)
		return -1;
	return id;
}

static int arm(int id, long long value_ns, long long interval_ns)
{
	struct itimerspec spec = { { interval_ns / SECOND, interval_ns % SECOND }, { value_ns / SECOND, value_ns % SECOND } };
	return (int)syscall(SYS_timer_settime, id, 0, &spec, NULL);
}

/* Creates A, B and C with a deleted timer before B and C, so their ids are not 0, 1, 2. */
static int set_timers(void)
{
	int spare[3], s = 0;
	for (int i = 0; i < 3; i++) {
		const struct timer_setup *t = &setups[i];
		if (i > 0 && (spare[s++] = create_timer(CLOCK_MONOTONIC, SIGEV_NONE, 0, 0, 0)) < 0)
			return -1;
		ids[i] = create_timer(t->clock, t->notify, signal_of(i), t->value, i == 1 ? worker_tid : 0);
		if (ids[i] < 0)
			return -1;
	}
	if ((spare[s++] = create_timer(CLOCK_MONOTONIC, SIGEV_NONE, 0, 0, 0)) < 0)
		return -1;
	for (int i = 0; i < 3; i++) {
		deleted[i] = spare[i];
		if (syscall(SYS_timer_delete, spare[i]) != 0)
			return -1;
	}
	for (int i = 0; i < 3; i++) {
		armed_at[i] = now_ns(setups[i].clock);
		if (arm(ids[i], setups[i].first_ns, setups[i].interval_ns) != 0)
			return -1;
	}
	struct itimerval real = { { 250, 0 }, { 500, 0 } };
	struct itimerval fast = { { 0, 200000 }, { 0, 1000 } };
	real_armed_at = now_ns(CLOCK_MONOTONIC);
	return setitimer(ITIMER_REAL, alarm_mode ? &fast : &real, NULL);
}

static void on_alarm(int sig) { (void)sig; alarm_count++; }

static int is_pending(int signal)
{
	sigset_t pending;
	sigpending(&pending);
	return sigismember(&pending, signal);
}

static int alarm_pending(void) { return is_pending(SIGALRM); }

/* Blocks A's signal and rearms A to expire after 1 ms, then waits until its siginfo is queued. */
static int queue_timer_signal(void)
{
	sigset_t blocked;
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGRTMIN + 3);
	if (pthread_sigmask(SIG_BLOCK, &blocked, NULL) != 0 || arm(ids[0], 1000000, setups[0].interval_ns) != 0)
		return -1;
	for (int i = 0; !is_pending(SIGRTMIN + 3); i++) {
		if (i == 5000)
			return -1;
		usleep(1000);
	}
	return 0;
}

/* Blocks SIGALRM in the main thread and, through inheritance, in the worker. */
static int block_alarm(void)
{
	struct sigaction action = { .sa_handler = on_alarm };
	sigset_t alarm;
	sigemptyset(&alarm);
	sigaddset(&alarm, SIGALRM);
	if (sigaction(SIGALRM, &action, NULL) != 0)
		return -1;
	return pthread_sigmask(SIG_BLOCK, &alarm, NULL);
}

static int setup(const char *mode)
{
	struct sigaction a = { .sa_sigaction = on_a, .sa_flags = SA_SIGINFO };
	struct sigaction b = { .sa_sigaction = on_b, .sa_flags = SA_SIGINFO };
	struct sched_param batch = { 0 };
	pthread_t thread;

	if (personality(PER_LINUX | ADDR_NO_RANDOMIZE) < 0 || setpriority(PRIO_PROCESS, 0, 5) != 0)
		return -1;
	if (sched_setscheduler(0, SCHED_BATCH, &batch) != 0)
		return -1;
	if (sigaction(SIGRTMIN + 3, &a, NULL) != 0 || sigaction(SIGRTMIN + 4, &b, NULL) != 0)
		return -1;
	alarm_mode = strcmp(mode, "alarm") == 0;
	if (alarm_mode && block_alarm() != 0)
		return -1;
	if (pthread_create(&thread, NULL, worker, NULL) != 0)
		return -1;
	while (!worker_tid)
		usleep(1000);
	if (set_timers() != 0)
		return -1;
	for (int i = 0; alarm_mode && !alarm_pending(); i++) {
		if (i == 5000)
			return -1;
		usleep(1000);
	}
	if (strcmp(mode, "pending") == 0)
		return queue_timer_signal();
	if (strcmp(mode, "cpu") == 0) {
		struct itimerval virtual = { { 1, 0 }, { 100, 0 } };
		return setitimer(ITIMER_VIRTUAL, &virtual, NULL);
	}
	return 0;
}

/* The time left may only have shrunk since arming, by at most the time since then. */
static int check_left(const char *name, long long left, long long first, long long armed, int clock, char *why, size_t len)
{
	long long elapsed = now_ns(clock) - armed;
	if (left <= 0 || left > first) FAIL("%s has %lld ns left, more than its %lld", name, left, first);
	if (left < first - elapsed) FAIL("%s has %lld ns left, but only %lld ns passed since it was armed", name, left, elapsed);
	return 1;
}

/* ITIMER_REAL waits with its interval for the pending SIGALRM to be taken, and then runs again. */
static int check_stopped_alarm(const struct itimerval *real, char *why, size_t len)
{
	sigset_t alarm;
	if (!alarm_pending()) FAIL("no SIGALRM pending");
	if (real->it_value.tv_sec || real->it_value.tv_usec) FAIL("ITIMER_REAL runs with %ld.%06ld s left", real->it_value.tv_sec, real->it_value.tv_usec);
	if (real->it_interval.tv_sec != 0 || real->it_interval.tv_usec != 200000) FAIL("ITIMER_REAL interval %ld.%06ld s", real->it_interval.tv_sec, real->it_interval.tv_usec);
	sigemptyset(&alarm);
	sigaddset(&alarm, SIGALRM);
	pthread_sigmask(SIG_UNBLOCK, &alarm, NULL);
	for (int i = 0; i < 5000 && alarm_count < 2; i++)
		usleep(1000);
	if (alarm_count < 2) FAIL("%d SIGALRM after unblocking it", (int)alarm_count);
	return 1;
}

static int check_timers(char *why, size_t len)
{
	for (int i = 0; i < 3; i++) {
		struct itimerspec spec;
		if (syscall(SYS_timer_gettime, deleted[i], &spec) == 0 || errno != EINVAL) FAIL("deleted timer id %d exists", deleted[i]);
		if (syscall(SYS_timer_gettime, ids[i], &spec) != 0) FAIL("timer id %d: %s", ids[i], strerror(errno));
		long long interval = spec.it_interval.tv_sec * SECOND + spec.it_interval.tv_nsec;
		if (interval != setups[i].interval_ns) FAIL("timer %d has the interval %lld ns", ids[i], interval);
		char name[32];
		snprintf(name, sizeof(name), "timer %d", ids[i]);
		long long left = spec.it_value.tv_sec * SECOND + spec.it_value.tv_nsec;
		if (!check_left(name, left, setups[i].first_ns, armed_at[i], setups[i].clock, why, len)) return 0;
	}
	struct itimerval real;
	if (getitimer(ITIMER_REAL, &real) != 0) FAIL("getitimer: %s", strerror(errno));
	if (alarm_mode)
		return check_stopped_alarm(&real, why, len);
	if (real.it_interval.tv_sec != 250 || real.it_interval.tv_usec != 0) FAIL("ITIMER_REAL interval %ld.%06ld s", real.it_interval.tv_sec, real.it_interval.tv_usec);
	long long left = real.it_value.tv_sec * SECOND + real.it_value.tv_usec * 1000ll;
	return check_left("ITIMER_REAL", left, 500 * SECOND, real_armed_at, CLOCK_MONOTONIC, why, len);
}

static int check_scheduling(char *why, size_t len)
{
	int domain = personality(0xffffffff);
	if (domain != (PER_LINUX | ADDR_NO_RANDOMIZE)) FAIL("personality %#x", domain);
	errno = 0;
	int nice = getpriority(PRIO_PROCESS, 0);
	if (nice != 5 || errno) FAIL("nice %d", nice);
	nice = getpriority(PRIO_PROCESS, worker_tid);
	if (nice != 5 || errno) FAIL("nice %d in thread %d", nice, (int)worker_tid);
	int policy = sched_getscheduler(0);
	if (policy != SCHED_BATCH) FAIL("policy %d", policy);
	return 1;
}

/* Rearms A and B to expire at once, keeping their intervals, and checks what their signals carry. */
static int check_signals(char *why, size_t len)
{
	a_count = b_count = 0;
	if (arm(ids[0], 1000, setups[0].interval_ns) != 0 || arm(ids[1], 1000, setups[1].interval_ns) != 0) FAIL("rearm: %s", strerror(errno));
	for (int i = 0; i < 5000 && (!a_count || !b_count); i++)
		usleep(1000);
	if (!a_count || !b_count) FAIL("timer signals: %d from A, %d from B", (int)a_count, (int)b_count);
	if (a_value != 0xabc123 || a_timer != ids[0] || a_code != SI_TIMER) FAIL("A sent value %#lx timer %d code %d", (unsigned long)a_value, a_timer, a_code);
	if (a_tid != own_tid()) FAIL("A's signal went to thread %d", (int)a_tid);
	if (b_value != 0x5150 || b_tid != worker_tid) FAIL("B sent value %#lx to thread %d, not %d", (unsigned long)b_value, (int)b_tid, (int)worker_tid);
	return 1;
}

static int check(char *why, size_t len)
{
	return check_scheduling(why, len) && check_timers(why, len) && check_signals(why, len);
}

int main(int argc, char **argv)
{
	if (argc < 2) { fprintf(stderr, "usage: restore_timers DIR [cpu|alarm|pending]\n"); return 2; }
	close_range(3, ~0U, 0);	/* fds the test runner leaked into this process */
	if (setup(argc > 2 ? argv[2] : "") != 0) {
		perror("setup");
		return 1;
	}
	request_checks_on_signal();

	printf("READY pid=%d timers=%d,%d,%d worker=%d\n", getpid(), ids[0], ids[1], ids[2], (int)worker_tid);
	fflush(stdout);
	detach_stdio();

	serve_signal_checks(argv[1], check);
}
