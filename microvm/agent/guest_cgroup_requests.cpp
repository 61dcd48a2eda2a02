#include "microvm/agent/guest_cgroup_requests.h"

#include <algorithm>
#include <vector>

#include "microvm/agent/guest_namespaces.h"

namespace hutch::microvm::agent {

namespace {

ErrorOr<std::string> update_limits(const ContainerCgroup& cgroup, std::string_view limits) {
    TRY(cgroup.write_limits(TRY(parse_guest_limits(limits))));
    return std::string();
}

ErrorOr<std::string> read_stats(const ContainerCgroup& cgroup) { return to_json(TRY(cgroup.read_stats())); }

// Numbered as the container sees them, for its `kill` and its own ps; one that ended meanwhile is
// left out.
ErrorOr<std::string> list_processes(const ContainerCgroup& cgroup) {
    std::vector<pid_t> inside;
    for (pid_t pid : TRY(cgroup.pids()))
        if (auto seen = innermost_pid(pid)) inside.push_back(*seen);
    std::ranges::sort(inside);
    return pids_json(inside);
}

}  // namespace

ErrorOr<std::string> answer_cgroup_request(const ContainerCgroup& cgroup, const Frame& request) {
    auto [id, data] = TRY(parse_exec_payload(request.payload));
    auto answer = request.kind == FrameKind::update  ? update_limits(cgroup, data)
                  : request.kind == FrameKind::stats ? read_stats(cgroup)
                                                     : list_processes(cgroup);
    if (!answer) return encode_exec_frame(FrameKind::exec_failure, id, answer.error().message);
    std::string frames;
    if (!answer->empty()) frames += encode_exec_frame(FrameKind::exec_stdout, id, *answer);
    return frames + encode_exec_frame(FrameKind::exec_exit, id, int_payload(0));
}

}  // namespace hutch::microvm::agent
