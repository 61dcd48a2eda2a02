// raw-syscall NR...: makes each syscall by its number, every argument 0, and prints "NR=ERRNO"
// for each (ERRNO 0: it succeeded). The integration tests copy it, static, into a container's
// busybox rootfs, to see what a seccomp filter answers there: busybox cannot call a syscall by
// number. Arguments of 0 keep a call that gets through harmless (clone3 with size 0 is EINVAL).
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        long nr = std::strtol(argv[i], nullptr, 0);
        long rc = syscall(nr, 0, 0, 0, 0, 0, 0);
        std::printf("%ld=%d\n", nr, rc == -1 ? errno : 0);
    }
    return 0;
}
