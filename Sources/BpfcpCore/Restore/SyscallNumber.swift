/// x86_64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl),
/// which Swift does not import from <sys/syscall.h>.
enum SyscallNumber {
    static let read = 0, write = 1, close = 3, lseek = 8, mmap = 9, mprotect = 10, munmap = 11
    static let rtSigaction = 13, ioctl = 16, mremap = 25, madvise = 28, dup = 32, getpid = 39
    static let fcntl = 72, ftruncate = 77, chdir = 80, umask = 95, setpgid = 109, setsid = 112
    static let setresuid = 117, setresgid = 119
    static let sigaltstack = 131, prctl = 157, archPrctl = 158, setrlimit = 160, gettid = 186
    static let exitGroup = 231, openat = 257, setRobustList = 273, eventfd2 = 290, signalfd4 = 289, timerfdCreate = 283, timerfdSettime = 286, dup3 = 292
    static let pipe2 = 293, prlimit64 = 302, memfdCreate = 319, rseq = 334, closeRange = 436
    static let setTidAddress = 218, clone3 = 435, pidfdOpen = 434, pidfdGetfd = 438
    static let userfaultfd = 323
}
