#include "microvm/host/cgroup_requests.h"

#include "base/file.h"
#include "microvm/host/exec_socket.h"

namespace hutch::microvm::host {
namespace {

// One request and its answer: what the agent sent as exec stdout before its exit frame.
ErrorOr<std::string> request(const std::string& state_dir, FrameKind kind, std::string_view payload) {
    UniqueFd socket = TRY(connect_exec_socket(state_dir));
    TRY_CTX(write_all(socket.get(), encode_exec_frame(kind, 0, payload)),
            "write the container's exec socket");
    FrameReader reader;
    std::string answer;
    for (;;) {
        auto frame = TRY_CTX(read_frame(socket.get(), reader), "the container's exec socket");
        if (!frame) return fail("the container stopped");
        auto data = TRY(parse_exec_payload(frame->payload)).data;
        if (frame->kind == FrameKind::exec_failure) return fail("in the VM: " + std::string(data));
        if (frame->kind == FrameKind::exec_exit) return answer;
        if (frame->kind != FrameKind::exec_stdout || answer.size() + data.size() > max_frame_payload)
            return fail("the container's relay sent something else than an answer");
        answer.append(data);
    }
}

}  // namespace

ErrorOr<void> update_vm_limits(const std::string& state_dir, const GuestLimits& limits) {
    TRY(request(state_dir, FrameKind::update, to_json(limits)));
    return {};
}

ErrorOr<cgroups::Stats> read_vm_stats(const std::string& state_dir) {
    return TRY_CTX(parse_guest_stats(TRY(request(state_dir, FrameKind::stats, ""))), "the VM's answer");
}

ErrorOr<std::vector<pid_t>> list_vm_processes(const std::string& state_dir) {
    return TRY_CTX(parse_guest_pids(TRY(request(state_dir, FrameKind::processes, ""))), "the VM's answer");
}

}  // namespace hutch::microvm::host
