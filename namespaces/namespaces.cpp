#include "namespaces/namespaces.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "base/file.h"

namespace hutch::namespaces {

using spec::NamespaceType;

int clone_flag(NamespaceType type) {
    switch (type) {
        case NamespaceType::pid: return CLONE_NEWPID;
        case NamespaceType::network: return CLONE_NEWNET;
        case NamespaceType::mount: return CLONE_NEWNS;
        case NamespaceType::ipc: return CLONE_NEWIPC;
        case NamespaceType::uts: return CLONE_NEWUTS;
        case NamespaceType::user: return CLONE_NEWUSER;
        case NamespaceType::cgroup: return CLONE_NEWCGROUP;
        case NamespaceType::time: return CLONE_NEWTIME;
    }
    return 0;
}

ErrorOr<Plan> plan(const spec::Spec& spec) {
    Plan p;
    if (!spec.linux_) return p;
    for (const auto& ns : spec.linux_->namespaces) {
        std::string field = std::string("linux.namespaces.") + spec::namespace_name(ns.type);
        if (ns.path.empty()) {
            if (ns.type == NamespaceType::cgroup)
                p.new_cgroup = true;  // after the move into the cgroups, so that they are its root
            else
                p.clone_flags |= clone_flag(ns.type);
            continue;
        }
        UniqueFd fd(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) return fail_errno(field + ": open " + ns.path);
        if (ns.type == NamespaceType::pid)
            p.pid_join = std::move(fd);
        else
            p.joins.push_back({ns.type, std::move(fd)});
    }
    p.new_user = (p.clone_flags & CLONE_NEWUSER) != 0;
    // Namespaces created together with a new user namespace belong to it; joined ones belong to
    // another. Mixing them needs an extra process (join, unshare the user namespace, fork), which
    // hutch does not do yet.
    bool joins_any = !p.joins.empty() || p.pid_join.valid();
    if (p.new_user && joins_any)
        return fail(
            "linux.namespaces: a new user namespace together with joined namespaces is not supported yet");
    bool joins_user = std::any_of(p.joins.begin(), p.joins.end(),
                                  [](const JoinTarget& j) { return j.type == NamespaceType::user; });
    if (joins_user && (p.clone_flags & CLONE_NEWPID))
        return fail(
            "linux.namespaces: a new pid namespace inside a joined user namespace is not supported yet");
    if (joins_user) {
        // Namespaces made before the join would belong to the host's user namespace, where the
        // container has no rights: the child unshares them once inside the joined one.
        p.unshare_flags = p.clone_flags & ~CLONE_NEWTIME;
        p.clone_flags &= CLONE_NEWTIME;
    }
    // Making a network namespace costs 0.35-0.5 ms here (every protocol's per-namespace set-up).
    // In clone3() the parent would spend it before the child exists; unshared by the child, it is
    // made while the parent makes the cgroups. The child does it after entering its user namespace
    // (new or joined), so that the network namespace still belongs to that one.
    if (p.clone_flags & CLONE_NEWNET) {
        p.clone_flags &= ~CLONE_NEWNET;
        p.unshare_flags |= CLONE_NEWNET;
    }
    // The user namespace is joined first: the others joined after it may belong to it.
    std::stable_partition(p.joins.begin(), p.joins.end(),
                          [](const JoinTarget& j) { return j.type == NamespaceType::user; });
    return p;
}

bool Plan::other_user_namespace() const {
    return new_user ||
           std::ranges::any_of(joins, [](const JoinTarget& j) { return j.type == NamespaceType::user; });
}

ErrorOr<void> join_all(const Plan& plan) {
    for (const auto& target : plan.joins)
        if (::setns(target.fd.get(), clone_flag(target.type)) != 0)
            return fail_errno(std::string("setns into the ") + spec::namespace_name(target.type) +
                              " namespace");
    if (plan.unshare_flags && ::unshare(plan.unshare_flags) != 0) return fail_errno("unshare namespaces");
    return {};
}

std::string format_id_map(const std::vector<spec::IdMapping>& mappings) {
    std::string out;
    for (const auto& m : mappings)
        out += std::to_string(m.container_id) + " " + std::to_string(m.host_id) + " " +
               std::to_string(m.size) + "\n";
    return out;
}

ErrorOr<void> write_id_maps(pid_t pid, const spec::Linux& linux_config) {
    std::string proc = "/proc/" + std::to_string(pid);
    TRY_CTX(write_existing_file(proc + "/uid_map", format_id_map(linux_config.uid_mappings)),
            "linux.uidMappings");
    TRY_CTX(write_existing_file(proc + "/gid_map", format_id_map(linux_config.gid_mappings)),
            "linux.gidMappings");
    return {};
}

ErrorOr<UniqueFd> make_user_namespace(const std::vector<spec::IdMapping>& uids,
                                      const std::vector<spec::IdMapping>& gids) {
    // A raw clone with no stack is a fork: the namespace exists as soon as it returns, so the
    // helper need not say when it is ready; it only waits to be killed. It holds none of our fds
    // (the container directory's lock among them), and dies with us if we are killed first.
    pid_t parent = ::getpid();
    pid_t pid = static_cast<pid_t>(::syscall(SYS_clone, static_cast<unsigned long>(CLONE_NEWUSER | SIGCHLD),
                                             nullptr, nullptr, nullptr, 0UL));
    if (pid < 0) return fail_errno("clone a user namespace for an idmapped mount");
    if (pid == 0) {
        ::syscall(SYS_close_range, 0U, ~0U, 0U);
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) _exit(1);
        for (;;) ::pause();
    }
    auto opened = [&]() -> ErrorOr<UniqueFd> {
        std::string proc = "/proc/" + std::to_string(pid);
        TRY_CTX(write_existing_file(proc + "/uid_map", format_id_map(uids)), "write uid_map");
        TRY_CTX(write_existing_file(proc + "/gid_map", format_id_map(gids)), "write gid_map");
        UniqueFd ns(::open((proc + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
        if (!ns) return fail_errno("open " + proc + "/ns/user");
        return ns;
    }();
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return opened;
}

}  // namespace hutch::namespaces
