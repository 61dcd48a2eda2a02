#include "microvm/host/limits_update.h"

#include "base/file.h"
#include "microvm/host/exec_socket.h"

namespace hutch::microvm::host {

ErrorOr<void> update_vm_limits(const std::string& state_dir, const GuestLimits& limits) {
    UniqueFd socket = TRY(connect_exec_socket(state_dir));
    TRY_CTX(write_all(socket.get(), encode_exec_frame(FrameKind::update, 0, to_json(limits))),
            "write the container's exec socket");
    FrameReader reader;
    auto frame = TRY_CTX(read_frame(socket.get(), reader), "the container's exec socket");
    if (!frame) return fail("the container stopped");
    if (frame->kind == FrameKind::exec_failure)
        return fail("in the VM: " + std::string(TRY(parse_exec_payload(frame->payload)).data));
    if (frame->kind != FrameKind::exec_exit)
        return fail("the container's relay sent something else than exit");
    return {};
}

}  // namespace hutch::microvm::host
