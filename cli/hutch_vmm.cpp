// hutch-vmm: the builtin VMM (microvm/) as a process of its own, one per microVM, as firecracker
// is: `hutch run --vm` starts it with the agent's ports on inherited fds, and kills it when the
// container is done, so that a VMM that fails takes down only its own VM.
//
//   hutch-vmm --kernel VMLINUX [--initrd FILE] [--cmdline TEXT] [--memory MIB] [--vcpus N]
//             [--disk path=FILE[,readonly=on][,serial=ID]]... [--pmem path=FILE[,readonly=off]]...
//             [--port name=NAME,fd=N]... [--merge-memory] [--timeout-ms N] [--serial-input]
//
// The serial console goes to stdout; with --serial-input, stdin (a pipe, socket or terminal) is
// its input, as Firecracker's. Only when asked: a VMM started by a script or a test often
// inherits a stdin that is someone else's (a terminal, a CI runner's pipe), and reading it would
// take their input; hutch's run_in_vm gives it /dev/null, which it could not read anyway. It exits with the
// code the guest gives through the exit device (microvm/exit_device.h); a failure of the VMM itself is one
// line on stderr and status 125, the code docker uses for its own failures.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>

#include "base/guarded_main.h"
#include "microvm/run_vm.h"

using namespace hutch;

namespace {

constexpr int kVmmFailed = 125;

// A device given as "key=value,key=value" (cloud-hypervisor's form), checked against the keys the
// device has. A value cannot hold a comma.
using DeviceSpec = std::map<std::string, std::string>;

// The first key is required.
ErrorOr<DeviceSpec> parse_device_spec(const std::string& what, const std::string& spec,
                                      std::initializer_list<std::string_view> keys) {
    DeviceSpec fields;
    size_t start = 0;
    while (start <= spec.size()) {
        size_t end = std::min(spec.find(',', start), spec.size());
        std::string field = spec.substr(start, end - start);
        size_t equals = field.find('=');
        if (equals == std::string::npos || equals == 0)
            return fail(what + " " + spec + ": expected key=value, got \"" + field + "\"");
        std::string key = field.substr(0, equals);
        if (std::find(keys.begin(), keys.end(), key) == keys.end())
            return fail(what + " " + spec + ": unknown key " + key);
        if (!fields.emplace(key, field.substr(equals + 1)).second)
            return fail(what + " " + spec + ": " + key + " given twice");
        start = end + 1;
    }
    std::string required(*keys.begin());
    if (!fields.contains(required)) return fail(what + " " + spec + ": " + required + "= is required");
    return fields;
}

// "on" or "off", `fallback` when absent.
ErrorOr<bool> on_off(const DeviceSpec& fields, const std::string& key, bool fallback) {
    auto it = fields.find(key);
    if (it == fields.end()) return fallback;
    if (it->second != "on" && it->second != "off")
        return fail(key + "=" + it->second + ": expected on or off");
    return it->second == "on";
}

ErrorOr<microvm::DiskConfig> parse_disk(const std::string& spec) {
    auto fields = TRY(parse_device_spec("--disk", spec, {"path", "readonly", "serial"}));
    bool read_only = TRY_CTX(on_off(fields, "readonly", false), "--disk " + spec);
    microvm::DiskConfig disk{fields["path"], read_only, fields["serial"]};
    return disk;
}

ErrorOr<microvm::PmemConfig> parse_pmem(const std::string& spec) {
    auto fields = TRY(parse_device_spec("--pmem", spec, {"path", "readonly"}));
    return microvm::PmemConfig{fields["path"], TRY_CTX(on_off(fields, "readonly", true), "--pmem " + spec)};
}

// A virtio-console port on an inherited socket: name=NAME,fd=N.
ErrorOr<microvm::ConsolePort> parse_port(const std::string& spec) {
    auto fields = TRY(parse_device_spec("--port", spec, {"name", "fd"}));
    int fd = -1;
    const std::string& text = fields["fd"];
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), fd);
    if (error != std::errc() || end != text.data() + text.size() || fd < 3)
        return fail("--port " + spec + ": fd=" + text + ": expected an inherited fd, 3 or more");
    // Whether it is a usable socket is the device's to check (VirtioConsole::create).
    return microvm::ConsolePort{fields["name"], fd, false};
}

struct Flags {
    microvm::VmConfig config;
    std::vector<std::string> disks, pmem, ports;
    unsigned timeout_ms = 0;
    bool serial_input = false;
};

void add_flags(CLI::App& app, Flags& f) {
    app.add_option("--kernel", f.config.kernel,
                   "the guest kernel: an ELF image with a PVH entry, or a bzImage")
        ->required();
    app.add_option("--initrd", f.config.initrd, "an initrd, handed over as the PVH module");
    app.add_option("--cmdline", f.config.cmdline, "the kernel command line (the devices are appended)");
    // Their bounds are run_vm's to check, with the rest of the configuration.
    app.add_option("--memory", f.config.memory_mib, "guest memory in MiB");
    app.add_option("--vcpus", f.config.vcpus, "vCPUs");
    app.add_option("--disk", f.disks, "a virtio-blk disk: path=FILE[,readonly=on][,serial=ID]");
    app.add_option("--pmem", f.pmem, "a virtio-pmem region: path=FILE[,readonly=off]");
    app.add_option("--port", f.ports, "a virtio-console port on an inherited socket: name=NAME,fd=N");
    app.add_flag("--merge-memory", f.config.merge_memory, "let KSM merge the guest's pages");
    app.add_option("--timeout-ms", f.timeout_ms, "stop the guest and fail after this long (0: never)");
    app.add_flag("--serial-input", f.serial_input,
                 "stdin (a pipe, socket or terminal) is the serial console's input");
}

ErrorOr<int> run(Flags& f) {
    for (const auto& spec : f.disks) f.config.disks.push_back(TRY(parse_disk(spec)));
    for (const auto& spec : f.pmem) f.config.pmem.push_back(TRY(parse_pmem(spec)));
    for (const auto& spec : f.ports) f.config.console_ports.push_back(TRY(parse_port(spec)));
    f.config.timeout = std::chrono::milliseconds(f.timeout_ms);
    f.config.console_fd = STDOUT_FILENO;
    if (f.serial_input) f.config.serial_input_fd = STDIN_FILENO;
    return microvm::run_vm(f.config);
}

}  // namespace

int main(int argc, char** argv) {
    return run_guarded(
        [&] {
            CLI::App app{"hutch-vmm: runs one microVM on hutch's builtin VMM"};
            Flags flags;
            add_flags(app, flags);
            try {
                app.parse(argc, argv);
            } catch (const CLI::ParseError& e) {
                int status = app.exit(e);
                return status == 0 ? 0 : kVmmFailed;
            }
            auto exit_code = run(flags);
            if (!exit_code) {
                std::fprintf(stderr, "hutch-vmm: %s\n", exit_code.error().message.c_str());
                return kVmmFailed;
            }
            return *exit_code;
        },
        [](const char* what) {
            std::fprintf(stderr, "hutch-vmm: %s\n", what);
            return kVmmFailed;
        });
}
