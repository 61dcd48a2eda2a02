// Loading a seccomp filter that is already built: the only part of seccomp the child needs, apart
// from libseccomp (seccomp.cpp builds the program in the parent). The microVM's agent loads the
// host's program with it too.
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "runtime/security.h"

namespace hutch::security {

ErrorOr<UniqueFd> load_seccomp_program(const std::vector<sock_filter>& program, unsigned flags) {
    struct sock_fprog prog = {static_cast<unsigned short>(program.size()),
                              const_cast<sock_filter*>(program.data())};
    long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    if (rc < 0) return fail_errno("linux.seccomp: loading the filter");
    return UniqueFd((flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) ? static_cast<int>(rc) : -1);
}

}  // namespace hutch::security
