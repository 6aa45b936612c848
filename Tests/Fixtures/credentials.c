/* Known credentials: ids, supplementary groups, capability sets, securebits,
 * no_new_privs and two seccomp filters of known lengths. Runs as root and
 * drops to the values the credentials test expects. */
#define _GNU_SOURCE
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SECBIT_KEEP_CAPS_BIT (1 << 4)

static int fail(const char *step)
{
	perror(step);
	return 1;
}

/* Keeps CAP_CHOWN, CAP_SETGID, CAP_SETUID, CAP_SETPCAP and CAP_NET_BIND_SERVICE in the bounding set. */
static int drop_bounding(void)
{
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
		if (cap == CAP_CHOWN || cap == CAP_SETGID || cap == CAP_SETUID || cap == CAP_SETPCAP ||
		    cap == CAP_NET_BIND_SERVICE)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
			return -1;
	}
	return 0;
}

static int set_caps(void)
{
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2] = { 0 };

	data[0].permitted = (1u << CAP_CHOWN) | (1u << CAP_NET_BIND_SERVICE);
	data[0].effective = 1u << CAP_NET_BIND_SERVICE;
	data[0].inheritable = 1u << CAP_NET_BIND_SERVICE;
	return syscall(SYS_capset, &header, data);
}

/* A four-instruction filter that fails reboot(2) with EPERM, and a one-instruction allow-all. */
static int install_filters(void)
{
	struct sock_filter deny_reboot[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_reboot, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	struct sock_fprog first = { .len = 4, .filter = deny_reboot };
	struct sock_fprog second = { .len = 1, .filter = allow };

	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &first, 0, 0) != 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &second, 0, 0);
}

int main(void)
{
	gid_t groups[] = { 100, 200, 300 };

	if (setgroups(3, groups) != 0)
		return fail("setgroups");
	if (setresgid(1001, 1002, 1003) != 0)
		return fail("setresgid");
	if (drop_bounding() != 0)
		return fail("PR_CAPBSET_DROP");
	if (prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS_BIT, 0, 0, 0) != 0)
		return fail("PR_SET_SECUREBITS");
	if (setresuid(2001, 2002, 2003) != 0)
		return fail("setresuid");
	if (set_caps() != 0)
		return fail("capset");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_BIND_SERVICE, 0, 0) != 0)
		return fail("PR_CAP_AMBIENT_RAISE");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return fail("PR_SET_NO_NEW_PRIVS");
	if (install_filters() != 0)
		return fail("PR_SET_SECCOMP");

	printf("READY uid=2001 euid=2002 suid=2003\n");
	fflush(stdout);
	for (;;)
		pause();
}
