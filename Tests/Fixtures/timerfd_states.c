/* Three timerfds whose fdinfo values look alike in part:
 *   disarmed: set with a zero value and a 1 s interval, so it is disarmed
 *             but fdinfo shows the interval;
 *   fired:    a 1 ms first expiry and a 60 s interval, expired and not read,
 *             so it is armed while its value reads zero;
 *   pending:  100 s ahead with a 1 s interval.
 * Prints READY disarmed=FD fired=FD pending=FD once the fired timer expired. */
#include <signal.h>
#include <stdio.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static int timer(time_t value_s, long value_ns, time_t interval_s)
{
	struct itimerspec spec = { .it_value = { value_s, value_ns }, .it_interval = { interval_s, 0 } };
	int fd = timerfd_create(CLOCK_MONOTONIC, 0);

	if (fd < 0 || timerfd_settime(fd, 0, &spec, NULL) != 0) {
		perror("timerfd");
		_exit(1);
	}
	return fd;
}

int main(void)
{
	int disarmed = timer(0, 0, 1);
	int fired = timer(0, 1000000, 60);
	int pending = timer(100, 0, 1);
	struct timespec wait = { 0, 50000000 };

	nanosleep(&wait, NULL);
	printf("READY disarmed=%d fired=%d pending=%d\n", disarmed, fired, pending);
	fflush(stdout);
	for (;;)
		pause();
}
