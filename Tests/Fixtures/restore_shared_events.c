/* Fixture for restore of event files, a FIFO and a listener that a parent
 * and child share from before fork(). Usage:
 *   restore_shared_events timers DIR
 *     Before fork(), the parent creates a timerfd armed to fire in 3600 s
 *     and every 1800 s after (fd T, and a dup of it at fd D). It also
 *     creates a non-blocking one-shot timerfd that has expired once and was
 *     not read (fd K), and a non-blocking signalfd for SIGUSR2 and SIGURG
 *     (fd S), and blocks SIGUSR2. A CLOCK_REALTIME timerfd set with
 *     TFD_TIMER_ABSTIME|TFD_TIMER_CANCEL_ON_SET to fire in an hour (fd A)
 *     checks that the settime flags come back. Both processes have every fd open.
 *     The check reads the saved expiration from K (on the first check
 *     only), and checks T's interval and time left and S's mask. Then it
 *     shows through the child that each fd is one open file description:
 *     a new interval set on T, a new mask set on S and a read of K in one
 *     process are seen in the other.
 *   restore_shared_events epoll DIR
 *     An epoll instance watching an eventfd with data 7, both created
 *     before fork(), so the parent and the child have it open (fd E, and
 *     the eventfd at fd V). The check shows that a write to V by the child
 *     wakes the parent's epoll_wait(), that a watch the parent adds is seen
 *     by the child's, and that the watch on V can be changed through fd V.
 *   restore_shared_events fifo DIR
 *     The FIFO DIR/fifo opened O_RDWR before fork() (fd F), holding the
 *     unread bytes "abc". The check reads them (on the first check only)
 *     and shows that F is one open file description: O_NONBLOCK set on it
 *     in the parent is seen by the child.
 *   restore_shared_events listener DIR
 *     A TCP socket listening on 127.0.0.1 at a port the kernel picks (fd L)
 *     and a unix socket listening at DIR/sock (fd U), both created before
 *     fork(). The check connects to each from the parent, and the child
 *     accepts the connections.
 * The parent and child talk through a shared anonymous page. When
 * DIR/check appears, the parent checks and writes "pass COUNTER PID" or
 * "fail REASON" to DIR/result. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "restore_check.h"

#define PAGE 4096
#define TALK_AT ((char *)0x5c0000000000UL)
#define HOUR 3600
#define HALF_HOUR 1800
#define SIGNAL_BIT(n) (1ULL << ((n) - 1))
#define SAVED_MASK (SIGNAL_BIT(SIGUSR2) | SIGNAL_BIT(SIGURG))

static char dir[2048];
static int fifo_fd = -1;
static int timer_fd, timer_dup, tick_fd, signal_fd, absolute_fd = -1, epoll_fd = -1, event_fd = -1, listener = -1, unix_listener = -1;
static volatile unsigned long counter;

/* The shared page: request number, reply number, command, then the values the child replies with. */
struct talk {
	unsigned long request, reply;
	char command;
	long long values[2];
};

static volatile struct talk *talk(void) { return (volatile struct talk *)TALK_AT; }

static void pause_briefly(void)
{
	struct timespec pause = { 0, 2 * 1000 * 1000 };
	nanosleep(&pause, NULL);
}

/* Returns the signalfd's mask as /proc/self/fdinfo shows it, or 0 when unreadable. */
static unsigned long long fdinfo_sigmask(int fd)
{
	char path[64], line[256];
	unsigned long long mask = 0;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	FILE *info = fopen(path, "r");
	while (info && fgets(line, sizeof(line), info))
		if (strncmp(line, "sigmask:", 8) == 0)
			mask = strtoull(line + 8, NULL, 16);
	if (info) fclose(info);
	return mask;
}

/* Returns the "settime flags" of a timerfd as /proc/self/fdinfo shows them, or -1. */
static long settime_flags(int fd)
{
	char path[64], line[256];
	long flags = -1;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	FILE *info = fopen(path, "r");
	while (info && fgets(line, sizeof(line), info))
		if (strncmp(line, "settime flags:", 14) == 0)
			flags = strtol(line + 14, NULL, 8);
	if (info) fclose(info);
	return flags;
}

/* Returns the expirations a non-blocking read of `fd` takes: 0 when none, -errno on failure. */
static long long read_ticks(int fd)
{
	unsigned long long ticks = 0;
	if (read(fd, &ticks, sizeof(ticks)) == sizeof(ticks)) return (long long)ticks;
	return errno == EAGAIN ? 0 : -errno;
}

/* Runs one command of the parent in the child. */
static void run_command(char command, volatile long long *values)
{
	struct itimerspec now;
	struct signalfd_siginfo info;
	switch (command) {
	case 'g':
		if (timerfd_gettime(timer_fd, &now) != 0) { values[0] = -errno; break; }
		values[0] = now.it_interval.tv_sec;
		values[1] = now.it_value.tv_sec;
		break;
	case 'r':
		values[0] = read_ticks(tick_fd);
		break;
	case 'm':
		values[0] = (long long)fdinfo_sigmask(signal_fd);
		break;
	case 's':
		raise(SIGUSR2);
		values[0] = read(signal_fd, &info, sizeof(info)) == sizeof(info) ? (long long)info.ssi_signo : -errno;
		break;
	case 'w':
		values[0] = eventfd_write(event_fd, 1) == 0 ? 1 : -errno;
		break;
	case 'f':
		values[0] = fcntl(fifo_fd, F_GETFL);
		break;
	case 'a':
	case 'u': {
		int on = command == 'a' ? listener : unix_listener;
		struct pollfd ready = { .fd = on, .events = POLLIN };
		int accepted = poll(&ready, 1, 5000) == 1 ? accept(on, NULL, NULL) : -1;
		values[0] = accepted >= 0 ? 1 : -errno;
		if (accepted >= 0) close(accepted);
		break;
	}
	case 'e': {
		struct epoll_event ready[4];
		values[0] = epoll_wait(epoll_fd, ready, 4, 0);
		values[1] = values[0] > 0 ? (long long)ready[0].data.u64 : -1;
		break;
	}
	}
}

static void serve_child(void)
{
	unsigned long done = talk()->reply;
	for (;;) {
		pause_briefly();
		unsigned long requested = talk()->request;
		if (requested == done)
			continue;
		run_command(talk()->command, talk()->values);
		__atomic_store_n(&talk()->reply, requested, __ATOMIC_SEQ_CST);
		done = requested;
	}
}

/* Asks the child to run `command`; returns 0 when it did not reply within 5 s. */
static int ask_child(char command)
{
	unsigned long requested = talk()->request + 1;
	talk()->command = command;
	__atomic_store_n(&talk()->request, requested, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 2500 && talk()->reply != requested; i++)
		pause_briefly();
	return talk()->reply == requested;
}

/* Arms `fd` to fire once after 1 ns and waits until it has (poll, 5 s at most). */
static int expire_once(int fd)
{
	struct itimerspec soon = { { 0, 0 }, { 0, 1 } };
	struct pollfd ready = { .fd = fd, .events = POLLIN };
	return timerfd_settime(fd, 0, &soon, NULL) == 0 && poll(&ready, 1, 5000) == 1;
}

static int set_interval(int fd, long seconds)
{
	struct itimerspec every = { { seconds, 0 }, { seconds, 0 } };
	return timerfd_settime(fd, 0, &every, NULL) == 0;
}

static int check_timer(char *why, size_t len)
{
	struct itimerspec now, dup_now;
	if (timerfd_gettime(timer_fd, &now) != 0 || timerfd_gettime(timer_dup, &dup_now) != 0) { snprintf(why, len, "timerfd_gettime"); return 0; }
	if (now.it_interval.tv_sec != HALF_HOUR || now.it_interval.tv_nsec != 0) { snprintf(why, len, "timerfd interval %ld s", (long)now.it_interval.tv_sec); return 0; }
	if (now.it_value.tv_sec >= HOUR || (now.it_value.tv_sec == 0 && now.it_value.tv_nsec == 0)) { snprintf(why, len, "timerfd value %ld s", (long)now.it_value.tv_sec); return 0; }
	struct itimerspec absolute;
	long flags = settime_flags(absolute_fd);
	if (flags != (TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)) { snprintf(why, len, "the absolute timerfd has settime flags %lo", flags); return 0; }
	if (timerfd_gettime(absolute_fd, &absolute) != 0 || absolute.it_value.tv_sec >= HOUR || absolute.it_value.tv_sec == 0) {
		snprintf(why, len, "the absolute timerfd fires in %ld s", (long)absolute.it_value.tv_sec);
		return 0;
	}
	if (dup_now.it_interval.tv_sec != HALF_HOUR) { snprintf(why, len, "dup of the timerfd has interval %ld s", (long)dup_now.it_interval.tv_sec); return 0; }
	if (!ask_child('g')) { snprintf(why, len, "the child did not reply"); return 0; }
	if (talk()->values[0] != HALF_HOUR || talk()->values[1] >= HOUR) { snprintf(why, len, "the child's timerfd has interval %lld s, value %lld s", talk()->values[0], talk()->values[1]); return 0; }

	/* One description: an interval set here is the child's too. */
	if (!set_interval(timer_fd, 900) || !ask_child('g')) { snprintf(why, len, "setting the interval"); return 0; }
	long long seen = talk()->values[0];
	if (!set_interval(timer_fd, HALF_HOUR)) { snprintf(why, len, "setting the interval back"); return 0; }
	if (seen != 900) { snprintf(why, len, "the child sees interval %lld s after the parent set 900 s", seen); return 0; }
	return 1;
}

static int check_ticks(char *why, size_t len)
{
	static int first = 1;
	if (first) {
		long long saved = read_ticks(tick_fd);
		if (saved != 1) { snprintf(why, len, "the saved expiration reads %lld", saved); return 0; }
		first = 0;
	}
	if (!expire_once(tick_fd) || !ask_child('r')) { snprintf(why, len, "arming the one-shot timerfd"); return 0; }
	long long child = talk()->values[0], parent = read_ticks(tick_fd);
	if (child != 1 || parent != 0) { snprintf(why, len, "the child read %lld expirations, then the parent %lld", child, parent); return 0; }
	if (!expire_once(tick_fd)) { snprintf(why, len, "arming the one-shot timerfd again"); return 0; }
	parent = read_ticks(tick_fd);
	if (!ask_child('r')) { snprintf(why, len, "the child did not reply"); return 0; }
	child = talk()->values[0];
	if (parent != 1 || child != 0) { snprintf(why, len, "the parent read %lld expirations, then the child %lld", parent, child); return 0; }
	return 1;
}

static int check_signalfd(char *why, size_t len)
{
	struct signalfd_siginfo info;
	unsigned long long mask = fdinfo_sigmask(signal_fd);
	if (mask != SAVED_MASK) { snprintf(why, len, "signalfd mask %llx", mask); return 0; }
	raise(SIGUSR2);
	if (read(signal_fd, &info, sizeof(info)) != sizeof(info) || info.ssi_signo != SIGUSR2) { snprintf(why, len, "the parent read no SIGUSR2"); return 0; }
	if (!ask_child('s') || talk()->values[0] != SIGUSR2) { snprintf(why, len, "the child read %lld from the signalfd", talk()->values[0]); return 0; }

	/* One description: a mask set here is the child's too. */
	sigset_t wider;
	sigemptyset(&wider);
	sigaddset(&wider, SIGUSR2);
	sigaddset(&wider, SIGURG);
	sigaddset(&wider, SIGWINCH);
	if (signalfd(signal_fd, &wider, 0) != signal_fd || !ask_child('m')) { snprintf(why, len, "widening the signalfd mask"); return 0; }
	unsigned long long seen = (unsigned long long)talk()->values[0];
	sigdelset(&wider, SIGWINCH);
	if (signalfd(signal_fd, &wider, 0) != signal_fd) { snprintf(why, len, "setting the signalfd mask back"); return 0; }
	if (seen != (SAVED_MASK | SIGNAL_BIT(SIGWINCH))) { snprintf(why, len, "the child sees mask %llx after the parent added SIGWINCH", seen); return 0; }
	return 1;
}

static int check_timers(char *why, size_t len)
{
	return check_ticks(why, len) && check_timer(why, len) && check_signalfd(why, len);
}

static int setup_timers(void)
{
	struct itimerspec later = { { HALF_HOUR, 0 }, { HOUR, 0 } };
	sigset_t signals;
	sigemptyset(&signals);
	sigaddset(&signals, SIGUSR2);
	sigaddset(&signals, SIGURG);
	timer_fd = timerfd_create(CLOCK_MONOTONIC, 0);
	if (timer_fd < 0 || timerfd_settime(timer_fd, 0, &later, NULL) != 0) return -1;
	timer_dup = dup(timer_fd);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct itimerspec at = { { 0, 0 }, { now.tv_sec + HOUR - 1, 0 } };
	absolute_fd = timerfd_create(CLOCK_REALTIME, 0);
	if (absolute_fd < 0 || timerfd_settime(absolute_fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &at, NULL) != 0) return -1;
	tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	if (tick_fd < 0 || !expire_once(tick_fd)) return -1;
	signal_fd = signalfd(-1, &signals, SFD_NONBLOCK);
	if (signal_fd < 0) return -1;
	sigdelset(&signals, SIGURG);
	return sigprocmask(SIG_BLOCK, &signals, NULL);
}

static int check_epoll(char *why, size_t len)
{
	struct epoll_event ready, watch = { .events = EPOLLIN, .data.u64 = 9 };
	eventfd_t count;
	if (epoll_wait(epoll_fd, &ready, 1, 0) != 0) { snprintf(why, len, "the epoll instance reports an event before any write"); return 0; }
	if (!ask_child('w') || talk()->values[0] != 1) { snprintf(why, len, "the child's eventfd write failed"); return 0; }
	if (epoll_wait(epoll_fd, &ready, 1, 5000) != 1 || ready.data.u64 != 7) { snprintf(why, len, "the child's write did not wake the parent's epoll_wait"); return 0; }
	if (eventfd_read(event_fd, &count) != 0 || count != 1) { snprintf(why, len, "the eventfd holds %llu", (unsigned long long)count); return 0; }

	/* One instance: a watch the parent adds is seen by the child. */
	int readable = eventfd(1, 0);
	if (readable < 0 || epoll_ctl(epoll_fd, EPOLL_CTL_ADD, readable, &watch) != 0 || !ask_child('e')) { snprintf(why, len, "adding a watch"); return 0; }
	long long seen = talk()->values[0], data = talk()->values[1];
	epoll_ctl(epoll_fd, EPOLL_CTL_DEL, readable, NULL);
	close(readable);
	if (seen != 1 || data != 9) { snprintf(why, len, "the child's epoll_wait returned %lld events, data %lld", seen, data); return 0; }

	/* The watch on the eventfd is keyed by fd V, as EPOLL_CTL_ADD left it. */
	watch.data.u64 = 7;
	if (epoll_ctl(epoll_fd, EPOLL_CTL_MOD, event_fd, &watch) != 0) { snprintf(why, len, "EPOLL_CTL_MOD through fd %d: %s", event_fd, strerror(errno)); return 0; }
	return 1;
}

static int check_fifo(char *why, size_t len)
{
	static int first = 1;
	char saved[4] = { 0 };
	if (first) {
		if (read(fifo_fd, saved, 3) != 3 || strcmp(saved, "abc") != 0) { snprintf(why, len, "the FIFO holds \"%s\"", saved); return 0; }
		first = 0;
	}
	int flags = fcntl(fifo_fd, F_GETFL);
	if (flags < 0 || (flags & O_NONBLOCK) != 0 || fcntl(fifo_fd, F_SETFL, flags | O_NONBLOCK) != 0 || !ask_child('f')) {
		snprintf(why, len, "setting O_NONBLOCK on the FIFO");
		return 0;
	}
	long long seen = talk()->values[0];
	if (fcntl(fifo_fd, F_SETFL, flags) != 0) { snprintf(why, len, "clearing O_NONBLOCK"); return 0; }
	if (seen < 0 || (seen & O_NONBLOCK) == 0) { snprintf(why, len, "the child's FIFO flags are %llo", seen); return 0; }
	return 1;
}

static int setup_fifo(void)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/fifo", dir);
	if (mkfifo(path, 0600) != 0) return -1;
	fifo_fd = open(path, O_RDWR);
	return fifo_fd >= 0 && write(fifo_fd, "abc", 3) == 3 ? 0 : -1;
}

static int check_listener(char *why, size_t len)
{
	struct sockaddr_in address;
	socklen_t size = sizeof(address);
	if (getsockname(listener, (struct sockaddr *)&address, &size) != 0 || address.sin_port == 0) { snprintf(why, len, "the listener has no port"); return 0; }
	int client = socket(AF_INET, SOCK_STREAM, 0);
	if (client < 0 || connect(client, (struct sockaddr *)&address, size) != 0) { snprintf(why, len, "connecting to the listener: %s", strerror(errno)); return 0; }
	int accepted = ask_child('a') && talk()->values[0] == 1;
	close(client);
	if (!accepted) { snprintf(why, len, "the child accepted no connection (%lld)", talk()->values[0]); return 0; }

	struct sockaddr_un name = { .sun_family = AF_UNIX };
	snprintf(name.sun_path, sizeof(name.sun_path), "%.100s/sock", dir);
	client = socket(AF_UNIX, SOCK_STREAM, 0);
	if (client < 0 || connect(client, (struct sockaddr *)&name, sizeof(name)) != 0) { snprintf(why, len, "connecting to the unix listener: %s", strerror(errno)); return 0; }
	accepted = ask_child('u') && talk()->values[0] == 1;
	close(client);
	if (!accepted) { snprintf(why, len, "the child accepted no unix connection (%lld)", talk()->values[0]); return 0; }
	return 1;
}

static int setup_listener(void)
{
	struct sockaddr_in address = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_un name = { .sun_family = AF_UNIX };
	snprintf(name.sun_path, sizeof(name.sun_path), "%.100s/sock", dir);
	listener = socket(AF_INET, SOCK_STREAM, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(listener, 4) != 0) return -1;
	unix_listener = socket(AF_UNIX, SOCK_STREAM, 0);
	if (unix_listener < 0 || bind(unix_listener, (struct sockaddr *)&name, sizeof(name)) != 0) return -1;
	return listen(unix_listener, 4);
}

static int setup_epoll(void)
{
	struct epoll_event watch = { .events = EPOLLIN, .data.u64 = 7 };
	event_fd = eventfd(0, 0);
	epoll_fd = epoll_create1(0);
	if (event_fd < 0 || epoll_fd < 0) return -1;
	return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, event_fd, &watch);
}

int main(int argc, char **argv)
{
	if (argc < 3) { fprintf(stderr, "usage: restore_shared_events timers|epoll|fifo|listener DIR\n"); return 2; }
	snprintf(dir, sizeof(dir), "%.2000s", argv[2]);
	close_range(3, ~0U, 0);	/* fds the test runner leaked into this process */
	int epoll_mode = strcmp(argv[1], "epoll") == 0, listener_mode = strcmp(argv[1], "listener") == 0;
	int fifo_mode = strcmp(argv[1], "fifo") == 0;
	if (mmap(TALK_AT, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != TALK_AT) { perror("mmap"); return 1; }
	int (*check)(char *, size_t) = check_timers;
	int ready;
	if (epoll_mode) {
		check = check_epoll;
		ready = setup_epoll();
	} else if (listener_mode) {
		check = check_listener;
		ready = setup_listener();
	} else if (fifo_mode) {
		check = check_fifo;
		ready = setup_fifo();
	} else {
		ready = setup_timers();
	}
	if (ready != 0) { perror("setup"); return 1; }

	fflush(stdout);
	pid_t child = fork();
	if (child < 0) { perror("fork"); return 1; }
	if (child == 0) {
		detach_stdio();
		serve_child();
	}
	printf("READY pid=%d child=%d timer=%d dup=%d tick=%d signal=%d epoll=%d event=%d listener=%d unix=%d\n", getpid(), child,
	       timer_fd, timer_dup, tick_fd, signal_fd, epoll_fd, event_fd, listener, unix_listener);
	fflush(stdout);
	detach_stdio();
	serve_checks(dir, &counter, check);
}
