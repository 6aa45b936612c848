/* Fixture for a whole-process restore, checked from inside: 200 files at
 * set offsets, a pipe holding queued bytes, an eventfd holding 42, a unix
 * socket pair holding a message, and 64 MiB of patterned anonymous memory.
 * Usage: restore_zdtm DIR. The files are DIR/f0..f199. After READY its
 * stdio is /dev/null. On SIGUSR1 it checks everything, reading the queues
 * (which empties them), and writes "pass" or "fail REASON" to DIR/result. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "restore_check.h"

#define FILES 200
#define FILE_SIZE 4096
#define MEMORY (64ul << 20)
#define PIPE_BYTES 12345

static const char *dir;
static int files[FILES], pipe_ends[2], counter_fd, pair[2];
static uint64_t *memory;

#define FAIL(...) do { snprintf(why, len, __VA_ARGS__); return 0; } while (0)

static off_t offset_of(int i) { return (off_t)(i * 37 + 11) % (FILE_SIZE - 16); }
static uint64_t word(uint64_t i) { return (i * 0x9E3779B97F4A7C15ull) ^ 0x5BD1E9955BD1E995ull; }
static unsigned char pipe_byte(int i) { return (unsigned char)(i * 7 + 3); }

static int setup(void)
{
	memory = mmap(NULL, MEMORY, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (memory == MAP_FAILED)
		return -1;
	for (uint64_t i = 0; i < MEMORY / 8; i++)
		memory[i] = word(i);

	for (int i = 0; i < FILES; i++) {
		char path[4096];
		unsigned char content[FILE_SIZE];
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		for (int j = 0; j < FILE_SIZE; j++)
			content[j] = (unsigned char)(i + j);
		int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, content, FILE_SIZE) != FILE_SIZE)
			return -1;
		close(fd);
		files[i] = open(path, i % 2 ? O_RDWR : O_RDONLY);
		if (files[i] < 0 || lseek(files[i], offset_of(i), SEEK_SET) != offset_of(i))
			return -1;
	}

	unsigned char bytes[PIPE_BYTES];
	for (int i = 0; i < PIPE_BYTES; i++)
		bytes[i] = pipe_byte(i);
	counter_fd = eventfd(42, EFD_NONBLOCK);
	if (pipe(pipe_ends) != 0 || write(pipe_ends[1], bytes, PIPE_BYTES) != PIPE_BYTES || counter_fd < 0)
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0 || send(pair[0], "zdtm-message", 12, 0) != 12)
		return -1;
	return 0;
}

static int check(char *why, size_t len)
{
	for (uint64_t i = 0; i < MEMORY / 8; i++)
		if (memory[i] != word(i)) FAIL("memory word %llu", (unsigned long long)i);

	for (int i = 0; i < FILES; i++) {
		off_t position = lseek(files[i], 0, SEEK_CUR);
		if (position != offset_of(i)) FAIL("file %d at %lld, expected %lld", i, (long long)position, (long long)offset_of(i));
		if ((fcntl(files[i], F_GETFL) & O_ACCMODE) != (i % 2 ? O_RDWR : O_RDONLY)) FAIL("file %d access mode", i);
		unsigned char byte;
		if (read(files[i], &byte, 1) != 1 || byte != (unsigned char)(i + offset_of(i))) FAIL("file %d content", i);
	}

	int queued = -1;
	if (ioctl(pipe_ends[0], FIONREAD, &queued) != 0 || queued != PIPE_BYTES) FAIL("pipe holds %d bytes", queued);
	static unsigned char bytes[PIPE_BYTES];
	for (int done = 0; done < PIPE_BYTES;) {
		ssize_t n = read(pipe_ends[0], bytes + done, PIPE_BYTES - done);
		if (n <= 0) FAIL("pipe read %zd", n);
		done += (int)n;
	}
	for (int i = 0; i < PIPE_BYTES; i++)
		if (bytes[i] != pipe_byte(i)) FAIL("pipe byte %d", i);

	uint64_t value = 0;
	if (read(counter_fd, &value, 8) != 8 || value != 42) FAIL("eventfd holds %llu", (unsigned long long)value);

	char message[64] = { 0 };
	ssize_t n = recv(pair[1], message, sizeof(message), MSG_DONTWAIT);
	if (n != 12 || memcmp(message, "zdtm-message", 12) != 0) FAIL("socket pair holds %zd bytes '%s'", n, message);
	if (recv(pair[0], message, 1, MSG_DONTWAIT) != -1 || errno != EAGAIN) FAIL("the other end of the pair holds bytes");
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 2) { fprintf(stderr, "usage: restore_zdtm DIR\n"); return 2; }
	dir = argv[1];
	close_range(3, ~0U, 0);	/* fds the test runner leaked into this process */
	if (setup() != 0) {
		perror("setup");
		return 1;
	}
	request_checks_on_signal();

	printf("READY pid=%d\n", getpid());
	fflush(stdout);
	detach_stdio();

	serve_signal_checks(dir, check);
}
