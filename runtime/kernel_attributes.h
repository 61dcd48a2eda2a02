// The kernel attributes a container's process gets before execve, from the runtime-spec 1.2
// fields (spec/parse_kernel_attributes.cpp turned them into the kernel's values): its scheduling
// policy, I/O priority, NUMA memory policy and execution domain, and its SELinux label. Applied
// by the cloned child, which never throws.
#pragma once

#include <optional>
#include <string>

#include "base/error.h"
#include "spec/spec.h"

namespace hutch::runtime {

// sched_setattr(2) on the calling process. Before capabilities are dropped: SCHED_FIFO and
// SCHED_RR, and a nice value below the current one, need CAP_SYS_NICE.
ErrorOr<void> apply_scheduler(const spec::Scheduler& scheduler);

// ioprio_set(2) on the calling process. IOPRIO_CLASS_RT needs CAP_SYS_ADMIN: before the drop too.
ErrorOr<void> apply_io_priority(const spec::IoPriority& io_priority);

ErrorOr<void> apply_personality(const spec::Personality& personality);

// set_mempolicy(2): the policy every page the process touches from now on is placed by.
ErrorOr<void> apply_memory_policy(const spec::MemoryPolicy& policy);

// Whether the host enforces SELinux labels at all: selinuxfs is mounted. Read by the parent,
// before the container's root hides the host's /sys.
bool selinux_enabled();

// The label the next execve gives the process (/proc/thread-self/attr/exec), as setexeccon does.
ErrorOr<void> set_exec_label(const std::string& label);

}  // namespace hutch::runtime
