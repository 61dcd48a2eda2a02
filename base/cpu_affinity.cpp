#include "base/cpu_affinity.h"

namespace hutch {

cpu_set_t allowed_cpus() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) != 0) CPU_ZERO(&set);
    return set;
}

cpu_set_t other_cpus() {
    cpu_set_t others = allowed_cpus();
    int here = ::sched_getcpu();
    if (here < 0 || CPU_COUNT(&others) < 2)
        CPU_ZERO(&others);
    else
        CPU_CLR(here, &others);
    return others;
}

void move_to(pid_t pid, const cpu_set_t& cpus) {
    if (CPU_COUNT(&cpus) > 0) ::sched_setaffinity(pid, sizeof cpus, &cpus);
}

void restore_cpus(const cpu_set_t& allowed) {
    if (CPU_COUNT(&allowed) > 0) ::sched_setaffinity(0, sizeof allowed, &allowed);
}

}  // namespace hutch
