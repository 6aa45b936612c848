/* Fixture for restore of per-process settings. Usage: restore_settings DIR MODE.
 * MODE "settings": cwd DIR/sub, umask 027, four resource limits, and then
 *   groups 1234,5678, uids 2001/2002/2003, gids 1001/1002/1003, the
 *   capabilities CAP_KILL and CAP_NET_BIND_SERVICE (that one ambient too),
 *   CAP_SYS_BOOT dropped from the bounding set, and no_new_privs.
 * MODE "chroot": root directory DIR, cwd "/".
 * MODE "seccomp": a seccomp filter that allows every call; its check only
 *   confirms the filter, because restore rejects it.
 * Like restore_basic, it waits until DIR/check appears (/check after chroot),
 * checks its own state, and writes "pass COUNTER PID" or "fail REASON" to
 * DIR/result. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static char dir[2048], expected_cwd[4096];
static int chrooted, filtered;
static volatile unsigned long counter;

static const struct { int resource; rlim_t soft, hard; } limits[] = {
	{ RLIMIT_NOFILE, 512, 4096 },
	{ RLIMIT_CORE, 0, 1234567 },
	{ RLIMIT_MSGQUEUE, 4096, 8192 },
	{ RLIMIT_SIGPENDING, 1000, 2000 },
};

static const unsigned long long caps = (1ull << CAP_KILL) | (1ull << CAP_NET_BIND_SERVICE);

static int capabilities(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
	return (int)syscall(SYS_capget, &header, data);
}

static int set_capabilities(unsigned long long mask)
{
	struct __user_cap_header_struct header = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = {
		{ (unsigned)mask, (unsigned)mask, (unsigned)mask },
		{ (unsigned)(mask >> 32), (unsigned)(mask >> 32), (unsigned)(mask >> 32) },
	};
	return (int)syscall(SYS_capset, &header, data);
}

static int check_ids(char *why, size_t len)
{
	uid_t r, e, s;
	gid_t gr, ge, gs;
	getresuid(&r, &e, &s);
	getresgid(&gr, &ge, &gs);
	if (r != 2001 || e != 2002 || s != 2003) { snprintf(why, len, "uids %u/%u/%u", r, e, s); return 0; }
	if (gr != 1001 || ge != 1002 || gs != 1003) { snprintf(why, len, "gids %u/%u/%u", gr, ge, gs); return 0; }
	gid_t groups[8];
	int n = getgroups(8, groups);
	if (n != 2 || groups[0] != 1234 || groups[1] != 5678) { snprintf(why, len, "%d groups", n); return 0; }
	struct __user_cap_data_struct data[2];
	if (capabilities(data) != 0) { snprintf(why, len, "capget"); return 0; }
	unsigned long long eff = data[0].effective | (unsigned long long)data[1].effective << 32;
	unsigned long long prm = data[0].permitted | (unsigned long long)data[1].permitted << 32;
	unsigned long long inh = data[0].inheritable | (unsigned long long)data[1].inheritable << 32;
	if (eff != caps || prm != caps || inh != caps) { snprintf(why, len, "capabilities %llx/%llx/%llx", eff, prm, inh); return 0; }
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_BIND_SERVICE, 0, 0) != 1) { snprintf(why, len, "ambient"); return 0; }
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 0, 0) != 0) { snprintf(why, len, "ambient CAP_KILL"); return 0; }
	if (prctl(PR_CAPBSET_READ, CAP_SYS_BOOT, 0, 0, 0) != 0) { snprintf(why, len, "CAP_SYS_BOOT bounding"); return 0; }
	if (prctl(PR_CAPBSET_READ, CAP_KILL, 0, 0, 0) != 1) { snprintf(why, len, "CAP_KILL bounding"); return 0; }
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) { snprintf(why, len, "no_new_privs"); return 0; }
	if (prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) != 0) { snprintf(why, len, "securebits %d", prctl(PR_GET_SECUREBITS, 0, 0, 0, 0)); return 0; }
	return 1;
}

static int check_settings(char *why, size_t len)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, expected_cwd) != 0) { snprintf(why, len, "cwd %.200s", cwd); return 0; }
	mode_t mask = umask(0);
	umask(mask);
	if (mask != 027) { snprintf(why, len, "umask %o", mask); return 0; }
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		struct rlimit value;
		getrlimit(limits[i].resource, &value);
		if (value.rlim_cur != limits[i].soft || value.rlim_max != limits[i].hard) {
			snprintf(why, len, "limit %d is %llu/%llu", limits[i].resource, (unsigned long long)value.rlim_cur,
				 (unsigned long long)value.rlim_max);
			return 0;
		}
	}
	return check_ids(why, len);
}

static int check_root(char *why, size_t len)
{
	struct stat info;
	if (stat("/marker", &info) != 0) { snprintf(why, len, "no /marker in the root directory"); return 0; }
	char cwd[4096];
	if (!getcwd(cwd, sizeof(cwd)) || strcmp(cwd, "/") != 0) { snprintf(why, len, "cwd %.200s", cwd); return 0; }
	return 1;
}

static void report(const char *text)
{
	char path[4096], final[4096];
	snprintf(path, sizeof(path), "%s/result.tmp", chrooted ? "" : dir);
	snprintf(final, sizeof(final), "%s/result", chrooted ? "" : dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (fd < 0)
		return;
	if (write(fd, text, strlen(text)) < 0) { }
	close(fd);
	rename(path, final);
}

static int drop_privileges(void)
{
	gid_t groups[] = { 1234, 5678 };
	if (prctl(PR_CAPBSET_DROP, CAP_SYS_BOOT, 0, 0, 0) != 0 || setgroups(2, groups) != 0) return -1;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 || setresgid(1001, 1002, 1003) != 0 || setresuid(2001, 2002, 2003) != 0) return -1;
	if (set_capabilities(caps) != 0 || prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return -1;
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0) != 0) return -1;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

int main(int argc, char **argv)
{
	if (argc < 3) { fprintf(stderr, "usage: restore_settings DIR settings|chroot|seccomp\n"); return 2; }
	snprintf(dir, sizeof(dir), "%.2000s", argv[1]);
	close_range(3, ~0U, 0);	/* fds the test runner leaked into this process */
	int null = open("/dev/null", O_RDWR);	/* opened before a chroot hides it */

	if (strcmp(argv[2], "seccomp") == 0) {
		struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
		struct sock_fprog program = { 1, &allow };
		if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program, 0, 0) != 0) { perror("seccomp"); return 1; }
		filtered = 1;
	} else if (strcmp(argv[2], "chroot") == 0) {
		char marker[4096];
		snprintf(marker, sizeof(marker), "%s/marker", dir);
		int fd = open(marker, O_WRONLY | O_CREAT, 0600);
		if (fd < 0 || chroot(dir) != 0 || chdir("/") != 0) { perror("chroot"); return 1; }
		close(fd);
		chrooted = 1;
	} else {
		snprintf(expected_cwd, sizeof(expected_cwd), "%s/sub", dir);
		if (mkdir(expected_cwd, 0777) != 0 || chmod(dir, 0777) != 0 || chmod(expected_cwd, 0777) != 0 || chdir(expected_cwd) != 0) {
			perror(expected_cwd);
			return 1;
		}
		umask(027);
		for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
			struct rlimit value = { limits[i].soft, limits[i].hard };
			if (setrlimit(limits[i].resource, &value) != 0) { perror("setrlimit"); return 1; }
		}
		if (drop_privileges() != 0) { perror("credentials"); return 1; }
	}

	printf("READY pid=%d\n", getpid());
	fflush(stdout);
	dup2(null, 0);
	dup2(null, 1);
	dup2(null, 2);
	close(null);

	char check_path[4096];
	snprintf(check_path, sizeof(check_path), "%s/check", chrooted ? "" : dir);
	for (;;) {
		struct timespec pause = { 0, 2 * 1000 * 1000 };
		counter++;
		nanosleep(&pause, NULL);
		if (access(check_path, F_OK) != 0)
			continue;
		char why[256], text[512];
		int passed = filtered ? prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == 2
			     : chrooted ? check_root(why, sizeof(why)) : check_settings(why, sizeof(why));
		if (filtered && !passed)
			snprintf(why, sizeof(why), "no seccomp filter");
		if (passed)
			snprintf(text, sizeof(text), "pass %lu %d\n", counter, getpid());
		else
			snprintf(text, sizeof(text), "fail %s\n", why);
		unlink(check_path);
		report(text);
	}
}
