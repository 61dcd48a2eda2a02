// Spreading the start path over two CPUs. This kernel starts a new thread or process on its
// creator's CPU, where it waits until the creator blocks, even with another CPU idle: the
// container's process making its network namespace and mounts while the parent makes the cgroups,
// or the thread that unmounts a finished container while its cgroups are removed, would take
// turns on one CPU with their creator. A new task that has not run yet is
// moved to the other allowed CPUs instead (cheap: nothing to stop). A process must get its mask
// back before it runs anything of the user's. With a single CPU allowed, nothing is moved.
#pragma once

#include <pthread.h>
#include <sched.h>
#include <sys/types.h>

namespace hutch {

// The CPUs the calling thread may use.
cpu_set_t allowed_cpus();

// The allowed CPUs but the caller's current one; empty when there is no other.
cpu_set_t other_cpus();

void move_off_this_cpu(pthread_t thread);
// Restricts a process (0: the caller) to `cpus`; does nothing when `cpus` is empty.
void move_to(pid_t pid, const cpu_set_t& cpus);

// Gives the calling thread the mask it had before it was moved.
void restore_cpus(const cpu_set_t& allowed);

}  // namespace hutch
