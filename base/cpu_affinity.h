// Spreading the start path over two CPUs. This kernel starts a new process on its creator's CPU,
// where it either waits until the creator blocks, even with another CPU idle, or runs first while
// the creator waits: the container's process making its network namespace and mounts and the
// parent making the cgroups would take turns on one CPU. The new process is moved to the other
// allowed CPUs instead: by its parent if it has not run yet (cheap: nothing to stop), by itself if
// it runs first. It must get its mask back before it runs anything of the user's. With a single
// CPU allowed, nothing is moved.
#pragma once

#include <sched.h>
#include <sys/types.h>

namespace hutch {

// The CPUs the calling thread may use.
cpu_set_t allowed_cpus();

// The allowed CPUs but the caller's current one; empty when there is no other.
cpu_set_t other_cpus();

// Restricts a process (0: the caller) to `cpus`; does nothing when `cpus` is empty.
void move_to(pid_t pid, const cpu_set_t& cpus);

// Gives the calling thread the mask it had before it was moved.
void restore_cpus(const cpu_set_t& allowed);

}  // namespace hutch
