/* A small process tree with one of every common kind of state, so that each
 * tab of bpfcp-top has rows. A parent and a child are joined by a pipe and a
 * unix socket pair. The parent has regular files at known offsets, an
 * anonymous mapping and several threads. An epoll instance watches its
 * periodic timerfd and an eventfd, and it has an inotify watch, a signal
 * handler and a queued pending signal. */
#define _GNU_SOURCE
#include "bpfcp_demo.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define DEMO_THREADS 3

/* The demo directory and its two files, removed by remove_files. */
static char demo_dir[] = "/tmp/bpfcp-demo-XXXXXX";
static char notes[64], log_path[64];

/* Removes the demo files. Async-signal-safe, so the death signal handler
 * can call it. */
static void remove_files(void)
{
	unlink(notes);
	unlink(log_path);
	rmdir(demo_dir);
}

/* The parent's death signal: bpfcp-top died without stopping the demo
 * (SIGKILL or a crash), so the demo removes its own files and exits.
 * NOTE: a process restored from a checkpoint of the demo keeps this handler
 * and the same path, so SIGTERM to it removes the original demo's files. */
static void on_parent_death(int sig)
{
	(void)sig;
	remove_files();
	_exit(0);
}

/* Dies with the process that started this one, by `sig`. The check after
 * prctl closes the race where that process died before the death signal
 * was armed. */
static int die_with_parent(pid_t expected_parent, int sig)
{
	if (prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0)
		return -1;
	return getppid() == expected_parent ? 0 : -1;
}

static int open_at(const char *path, off_t size, off_t offset)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || ftruncate(fd, size) != 0 || lseek(fd, offset, SEEK_SET) != offset)
		return -1;
	return fd;
}

static void *worker(void *arg)
{
	char name[16];

	snprintf(name, sizeof(name), "demo-worker-%ld", (long)(size_t)arg);
	prctl(PR_SET_NAME, name, 0, 0, 0);
	for (;;)
		pause();
	return NULL;
}

/* The child reads the pipe and keeps its socket end, so both show as peers. */
static void run_child(int pipe_read, int sock)
{
	char byte;

	prctl(PR_SET_NAME, "bpfcp-demo-kid", 0, 0, 0);
	(void)sock;
	for (;;) {
		if (read(pipe_read, &byte, 1) <= 0)
			pause();
	}
}

static int start_timer(void)
{
	struct itimerspec spec = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);

	if (fd < 0 || timerfd_settime(fd, 0, &spec, NULL) != 0)
		return -1;
	return fd;
}

static void on_usr2(int sig)
{
	(void)sig;
}

/* SIGUSR2 gets a handler; SIGUSR1 is blocked in every thread and queued
 * once with a value, so it stays pending. Runs before the threads start,
 * so they inherit the mask. */
static int set_up_signals(void)
{
	struct sigaction action = { .sa_handler = on_usr2, .sa_flags = SA_RESTART };
	union sigval value = { .sival_int = BPFCP_DEMO_SIGNAL_VALUE };
	sigset_t blocked;

	sigemptyset(&blocked);
	sigaddset(&blocked, SIGUSR1);
	if (sigaction(SIGUSR2, &action, NULL) != 0 || sigprocmask(SIG_BLOCK, &blocked, NULL) != 0)
		return -1;
	return sigqueue(getpid(), SIGUSR1, value);
}

/* An epoll instance watching the timer, the socket and an eventfd holding
 * 7, and an inotify watch on the demo directory. Returns the epoll fd. */
static int set_up_watches(int timer, int sock, const char *dir)
{
	struct epoll_event tick = { .events = EPOLLIN, .data.u64 = 1 };
	struct epoll_event peer = { .events = EPOLLIN | EPOLLRDHUP, .data.u64 = 2 };
	struct epoll_event counter = { .events = EPOLLIN | EPOLLET, .data.u64 = 3 };
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	int event = eventfd(7, EFD_CLOEXEC | EFD_NONBLOCK);
	int notify = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);

	if (epfd < 0 || event < 0 || notify < 0)
		return -1;
	if (inotify_add_watch(notify, dir, IN_CREATE | IN_DELETE | IN_MODIFY) < 0)
		return -1;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, timer, &tick) != 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, sock, &peer) != 0 ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, event, &counter) != 0)
		return -1;
	return epfd;
}

/* A sealed memfd holding a short note, for the memfd tab. */
static int set_up_memfd(void)
{
	static const char note[] = "bpfcp demo: this file lives only in memory\n";
	int fd = memfd_create("bpfcp-demo-note", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || write(fd, note, sizeof(note) - 1) != (ssize_t)(sizeof(note) - 1))
		return -1;
	return fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW);
}

int bpfcp_demo_pipe(int fds[2])
{
	return pipe2(fds, O_CLOEXEC);
}

/* Sets up the demo state in demo_dir and serves the timer forever; returns
 * a nonzero status only when a step fails. */
static int run_demo(void)
{
	int pipefd[2], socks[2], timer, epfd;
	pthread_t threads[DEMO_THREADS];
	void *area;
	pid_t parent = getpid(), child;

	if (open_at(notes, 8192, BPFCP_DEMO_NOTES_OFFSET) < 0 || open_at(log_path, 16384, BPFCP_DEMO_LOG_OFFSET) < 0)
		return 3;
	if (pipe(pipefd) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, socks) != 0)
		return 4;

	child = fork();
	if (child < 0)
		return 5;
	if (child == 0) {
		signal(SIGTERM, SIG_DFL);
		if (die_with_parent(parent, SIGKILL) != 0)
			_exit(1);
		close(pipefd[1]);
		close(socks[0]);
		run_child(pipefd[0], socks[1]);
	}
	close(pipefd[0]);
	close(socks[1]);

	area = mmap(NULL, 64 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED)
		return 6;
	memset(area, 0x5a, 16 * 4096);
	timer = start_timer();
	if (timer < 0)
		return 7;
	epfd = set_up_watches(timer, socks[0], demo_dir);
	if (epfd < 0)
		return 8;
	if (set_up_signals() != 0)
		return 9;
	if (set_up_memfd() != 0)
		return 10;
	for (long i = 0; i < DEMO_THREADS; i++)
		pthread_create(&threads[i], NULL, worker, (void *)(size_t)(i + 1));

	printf("READY parent=%d child=%d dir=%s\n", parent, child, demo_dir);
	fflush(stdout);
	/* Each timer tick sends one byte down the pipe to the child. */
	for (;;) {
		struct epoll_event ready;
		unsigned long long expirations;

		if (epoll_wait(epfd, &ready, 1, -1) == 1 && ready.data.u64 == 1 &&
		    read(timer, &expirations, sizeof(expirations)) > 0 && write(pipefd[1], "t", 1) < 0)
			pause();
	}
}

int bpfcp_demo_main(void)
{
	struct sigaction death = { .sa_handler = on_parent_death };
	int status;

	if (sigaction(SIGTERM, &death, NULL) != 0 || die_with_parent(getppid(), SIGTERM) != 0)
		return 1;
	prctl(PR_SET_NAME, "bpfcp-demo", 0, 0, 0);
	if (!mkdtemp(demo_dir))
		return 2;
	snprintf(notes, sizeof(notes), "%s/notes.txt", demo_dir);
	snprintf(log_path, sizeof(log_path), "%s/events.log", demo_dir);

	/* bpfcp-top removes the directory when it stops the demo, and the
	 * death signal handler removes it when bpfcp-top dies first. */
	status = run_demo();
	remove_files();
	return status;
}
