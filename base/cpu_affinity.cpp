#include "base/cpu_affinity.h"

namespace hutch {
namespace {

// The allowed CPUs without the current one, or false when there is no other.
bool elsewhere(cpu_set_t& out) {
    out = allowed_cpus();
    int here = ::sched_getcpu();
    if (here < 0 || CPU_COUNT(&out) < 2) return false;
    CPU_CLR(here, &out);
    return true;
}

}  // namespace

cpu_set_t allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) != 0) CPU_ZERO(&set);
    return set;
}

void move_off_this_cpu(pthread_t thread) {
    cpu_set_t others;
    if (elsewhere(others)) ::pthread_setaffinity_np(thread, sizeof others, &others);
}

void move_off_this_cpu(pid_t pid) {
    cpu_set_t others;
    if (elsewhere(others)) ::sched_setaffinity(pid, sizeof others, &others);
}

void restore_cpus(const cpu_set_t& allowed) {
    if (CPU_COUNT(&allowed) > 0) ::sched_setaffinity(0, sizeof allowed, &allowed);
}

}  // namespace hutch
