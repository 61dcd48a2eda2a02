#include "runtime/kernel_attributes.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/personality.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/fd.h"
#include "base/file.h"

namespace hutch::runtime {
namespace {

// linux/sched/types.h, which glibc 2.36 does not wrap; the fields up to the utilisation clamps.
struct SchedAttr {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
    uint32_t sched_util_min;
    uint32_t sched_util_max;
};

constexpr int kIoprioWhoProcess = 1;
constexpr int kIoprioClassShift = 13;

}  // namespace

ErrorOr<void> apply_scheduler(const spec::Scheduler& s) {
    SchedAttr attr{.size = sizeof(SchedAttr),
                   .sched_policy = s.policy,
                   .sched_flags = s.flags,
                   .sched_nice = s.nice,
                   .sched_priority = s.priority,
                   .sched_runtime = s.runtime,
                   .sched_deadline = s.deadline,
                   .sched_period = s.period,
                   .sched_util_min = 0,
                   .sched_util_max = 1024};
    if (::syscall(SYS_sched_setattr, 0, &attr, 0) != 0) return fail_errno("process.scheduler: sched_setattr");
    return {};
}

ErrorOr<void> apply_io_priority(const spec::IoPriority& io) {
    int value = io.io_class << kIoprioClassShift | io.priority;
    if (::syscall(SYS_ioprio_set, kIoprioWhoProcess, 0, value) != 0)
        return fail_errno("process.ioPriority: ioprio_set");
    return {};
}

ErrorOr<void> apply_personality(const spec::Personality& personality) {
    if (::personality(personality.domain) == -1) return fail_errno("linux.personality");
    return {};
}

ErrorOr<void> apply_memory_policy(const spec::MemoryPolicy& policy) {
    // maxnode counts one more than the mask's bits: the kernel reads maxnode - 1 of them.
    unsigned long maxnode = policy.nodes.empty() ? 0 : policy.nodes.size() * 64 + 1;
    const uint64_t* mask = policy.nodes.empty() ? nullptr : policy.nodes.data();
    if (::syscall(SYS_set_mempolicy, policy.mode, mask, maxnode) != 0)
        return fail_errno("linux.memoryPolicy: set_mempolicy");
    return {};
}

bool selinux_enabled() {
    struct statfs st {};
    return ::statfs("/sys/fs/selinux", &st) == 0 && st.f_type == SELINUX_MAGIC;
}

ErrorOr<void> set_exec_label(const std::string& label) {
    UniqueFd fd(::open("/proc/thread-self/attr/exec", O_WRONLY | O_CLOEXEC));
    if (!fd) return fail_errno("process.selinuxLabel: open /proc/thread-self/attr/exec");
    TRY_CTX(write_all(fd.get(), label), "process.selinuxLabel: " + label);
    return {};
}

}  // namespace hutch::runtime
