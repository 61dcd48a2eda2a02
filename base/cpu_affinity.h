// Spreading the start path over two CPUs. This kernel starts a new thread or process on its
// creator's CPU, where it waits until the creator blocks, even with another CPU idle: the helper
// that makes the network namespace, and the container's process setting up its mounts while the
// parent makes the cgroups, would take turns on one CPU. A new task that has not run yet is
// moved to the other allowed CPUs instead (cheap: nothing to stop). A process must get its mask
// back before it runs anything of the user's. With a single CPU allowed, nothing is moved.
#pragma once

#include <pthread.h>
#include <sched.h>
#include <sys/types.h>

namespace hutch {

// The CPUs the calling thread may use.
cpu_set_t allowed_cpus();

void move_off_this_cpu(pthread_t thread);
void move_off_this_cpu(pid_t pid);

// Gives the calling thread the mask it had before it was moved.
void restore_cpus(const cpu_set_t& allowed);

}  // namespace hutch
