/* Snapshot checkpoint target: a thread that keeps incrementing a counter
 * page, a thread blocked in read() on a pipe, a thread sleeping in
 * nanosleep(), and a count of every signal received.
 * Arguments: which blocking call the main thread makes, "read" or "sleep"
 * (another thread makes the other one), then "plain", or "seccomp" to
 * give every thread a filter that fails clone and clone3 with EPERM, or
 * "nproc" to run as nobody with RLIMIT_NPROC 0, so that any clone fails
 * with EAGAIN. The test reads the state below through /proc/PID/mem. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

struct reader {
	volatile long calls;
	volatile long result;
	volatile long errors;
	char buf[16];
};

struct sleeper {
	volatile long naps;
	volatile long errors;
};

static volatile long signal_counts[32];
static struct reader reader;
static struct sleeper sleeper;
static int pipe_fds[2];

extern char counter_store[];

static void count_signal(int sig)
{
	signal_counts[sig]++;
}

/* rbx holds the count; the store is at the global label counter_store, so
 * the test knows from the held rip and rbx which value memory holds. */
static void *count_forever(void *page)
{
	__asm__ volatile("xor %%ebx, %%ebx\n"
			 "1: add $1, %%rbx\n"
			 ".globl counter_store\n"
			 "counter_store: mov %%rbx, (%0)\n"
			 "jmp 1b\n"
			 : : "r"(page) : "rbx", "memory");
	return NULL;
}

static void *read_forever(void *arg)
{
	(void)arg;
	for (;;) {
		long n = read(pipe_fds[0], reader.buf, 8);

		reader.result = n;
		if (n < 0)
			reader.errors++;
		reader.calls++;
	}
	return NULL;
}

static void *sleep_forever(void *arg)
{
	(void)arg;
	for (;;) {
		struct timespec pause_for = { 0, 300 * 1000 * 1000 };

		if (nanosleep(&pause_for, NULL) != 0)
			sleeper.errors++;
		sleeper.naps++;
	}
	return NULL;
}

static int deny_clone(void)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
	};
	struct sock_fprog prog = { sizeof(code) / sizeof(code[0]), code };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
}

static int limit_processes(void)
{
	struct rlimit none = { 0, 0 };

	if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0)
		return -1;
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	return setrlimit(RLIMIT_NPROC, &none);
}

int main(int argc, char **argv)
{
	int main_reads = argc > 1 && strcmp(argv[1], "read") == 0;
	const char *mode = argc > 2 ? argv[2] : "plain";
	uint64_t *counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sigaction sa;
	pthread_t t;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = count_signal;
	for (int sig = 1; sig < 32; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);
	}
	if (counter == MAP_FAILED || pipe(pipe_fds) != 0) {
		perror("setup");
		return 1;
	}
	counter[0] = 0;
	pthread_create(&t, NULL, count_forever, counter);
	pthread_create(&t, NULL, main_reads ? sleep_forever : read_forever, NULL);

	if ((strcmp(mode, "seccomp") == 0 && deny_clone() != 0) || (strcmp(mode, "nproc") == 0 && limit_processes() != 0)) {
		perror(mode);
		return 1;
	}
	printf("READY counter=%lu store=%lu signals=%lu reader=%lu sleeper=%lu pipe=%d\n",
	       (unsigned long)counter, (unsigned long)counter_store, (unsigned long)signal_counts,
	       (unsigned long)&reader, (unsigned long)&sleeper, pipe_fds[1]);
	fflush(stdout);
	if (main_reads)
		read_forever(NULL);
	sleep_forever(NULL);
	return 0;
}
