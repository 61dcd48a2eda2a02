// Where a container's process runs: one interface, two backends. "linux" is namespaces and
// cgroups on the host's kernel (launch.h); "microvm" is the same container in a microVM of its
// own, booted by its VMM (QEMU or hutch-vmm) with hutch's guest kernel and hutch-agent as PID 1
// (microvm/host/).
//
// Chosen at create from config.json's annotation run.oci.handler (crun's name for it; crun's value
// is "krun"): absent for linux, "microvm" for the VM. Recorded in state.json ("backend", written
// only for microvm: a linux state is what it was) and looked up by every verb from the state.
//
// Both keep a host process as the container's pid: the linux backend its first process, the
// microvm backend a relay (hutch-vm-relay, like crun's krun handler process) that holds QEMU,
// relays its stdio and signals, and exits with the guest process's status. So state, start
// (exec.fifo), the wait of run and a kill of that pid go through the pid alike; what differs is
// here.
#pragma once

#include <string_view>

#include "base/error.h"
#include "runtime/create_internal.h"
#include "runtime/exec_launch.h"
#include "runtime/runtime.h"

namespace hutch::runtime {

inline constexpr std::string_view handler_annotation = "run.oci.handler";

class Backend {
public:
    virtual ~Backend() = default;
    // As recorded in state.json; "" for linux.
    virtual std::string_view name() const = 0;
    // The container's first process (or relay), waiting for start, its state saved.
    virtual ErrorOr<Launched> launch(const CreateOptions& options, Container& container,
                                     const spec::LoadedConfig& config, RunCreate run) const = 0;
    // `kill`: signal to the pid, or with all to every process of the container.
    virtual ErrorOr<void> signal(const Container& container, Status status, int signal, bool all) const = 0;
    // `delete`: kills what is left and releases what the container holds, but its state directory.
    virtual ErrorOr<void> destroy(const ContainerState& state, int held_netns) const = 0;
    // `pause` (true) and `resume` (false): every process of the container stopped, then let go on.
    virtual ErrorOr<void> set_paused(const Container& container, bool paused) const = 0;
    // Whether it is paused now: what the kernel says, never a record of ours.
    virtual bool paused(const Container& container) const = 0;
    // `update`: new limits for the container's processes.
    virtual ErrorOr<void> update(const Container& container, const spec::Resources& resources) const = 0;
    // `ps`: the pids of the processes of a created, running or paused container (status), sorted,
    // and their table (the host's ps(1) or why there is none).
    virtual ErrorOr<std::vector<pid_t>> processes(const Container& container, Status status) const = 0;
    virtual ErrorOr<std::string> process_table(const std::vector<pid_t>& pids,
                                               const std::vector<std::string>& ps_args) const = 0;
    // `events` (runtime.h) of a container, unlocked, that was in status (not stopped); pidfd is
    // its process's, or none when it has exited since.
    virtual ErrorOr<void> events(const Container& container, Status status, UniqueFd pidfd,
                                 const EventsOptions& options, const EventSink& emit) const = 0;
};

// The backend config's annotation asks for; one line naming the known ones for another value.
ErrorOr<const Backend*> backend_for(const spec::Spec& spec);
// The backend a container was created with.
const Backend& backend_of(const ContainerState& state);

const Backend& linux_backend();
const Backend& microvm_backend();

// `exec` in a microVM container: the exec's host process, hutch-vm-relay --exec (its pid is the
// exec's), once the agent has started process (process_json, config.json's form of it) in the
// guest. With a console socket and a terminal, pty_master is the relay's terminal's, for the socket.
ErrorOr<ExecLaunched> launch_microvm_exec(const Container& container, const spec::Process& process,
                                          const std::string& process_json, const ExecOptions& options);

}  // namespace hutch::runtime
