/* Fixed-argument wrappers for variadic system calls. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include "bpfcp_shim.h"

long bpfcp_ptrace(long request, pid_t pid, void *addr, void *data)
{
	return ptrace((enum __ptrace_request)request, pid, addr, data);
}

int bpfcp_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)
{
	return prctl(option, a2, a3, a4, a5);
}

int bpfcp_ioctl(int fd, unsigned long request, void *arg)
{
	return ioctl(fd, request, arg);
}

long bpfcp_syscall6(long number, long a1, long a2, long a3, long a4, long a5, long a6)
{
	return syscall(number, a1, a2, a3, a4, a5, a6);
}

int bpfcp_open(const char *path, int flags, unsigned int mode)
{
	return open(path, flags, mode);
}

int bpfcp_fcntl_int(int fd, int cmd, int arg)
{
	return fcntl(fd, cmd, arg);
}

unsigned long bpfcp_ptrace_request(const char *name)
{
	static const struct { const char *name; unsigned long value; } table[] = {
		{ "PTRACE_GETREGS", PTRACE_GETREGS },
		{ "PTRACE_SETREGS", PTRACE_SETREGS },
		{ "PTRACE_GETREGSET", PTRACE_GETREGSET },
		{ "PTRACE_SETREGSET", PTRACE_SETREGSET },
		{ "PTRACE_SEIZE", PTRACE_SEIZE },
		{ "PTRACE_INTERRUPT", PTRACE_INTERRUPT },
		{ "PTRACE_DETACH", PTRACE_DETACH },
		{ "PTRACE_CONT", PTRACE_CONT },
		{ "PTRACE_ATTACH", PTRACE_ATTACH },
		{ "PTRACE_GETSIGMASK", PTRACE_GETSIGMASK },
		{ "PTRACE_SETSIGMASK", PTRACE_SETSIGMASK },
		{ "PTRACE_SYSCALL", PTRACE_SYSCALL },
		{ "PTRACE_SETOPTIONS", PTRACE_SETOPTIONS },
		{ "PTRACE_PEEKSIGINFO", PTRACE_PEEKSIGINFO },
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(table[i].name, name) == 0)
			return table[i].value;
	}
	return (unsigned long)-1;
}

unsigned long bpfcp_statfs_type(const char *path)
{
	struct statfs fs;

	if (statfs(path, &fs) != 0)
		return 0;
	return (unsigned long)fs.f_type;
}
