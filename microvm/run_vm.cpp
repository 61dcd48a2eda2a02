#include "microvm/run_vm.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <condition_variable>
#include <mutex>
#include <optional>

#include "base/file.h"
#include "base/log.h"
#include "microvm/boot_cpu.h"
#include "microvm/boot_layout.h"
#include "microvm/exit_device.h"
#include "microvm/kernel_image.h"
#include "microvm/memory_layout.h"
#include "microvm/serial.h"
#include "microvm/serial_input.h"
#include "microvm/vcpu_threads.h"
#include "microvm/virtio_blk.h"
#include "microvm/virtio_console.h"
#include "microvm/virtio_mmio.h"
#include "microvm/virtio_pmem.h"

namespace hutch::microvm {

namespace {

// Reads a user-given file that must fit in guest memory, refusing a larger one before it is read.
ErrorOr<std::string> read_image(const std::string& path, uint64_t limit, const char* what) {
    UniqueFd fd(TRY_SYS(::open(path.c_str(), O_RDONLY | O_CLOEXEC), std::string(what) + ": " + path));
    struct stat st = {};
    TRY_SYS(::fstat(fd.get(), &st), std::string(what) + ": " + path);
    if (!S_ISREG(st.st_mode)) return fail(std::string(what) + ": " + path + ": not a regular file");
    if (static_cast<uint64_t>(st.st_size) > limit)
        return fail(std::string(what) + ": " + path + ": " + std::to_string(st.st_size) +
                    " bytes, more than guest memory (" + std::to_string(limit >> 20) + " MiB)");
    return TRY_CTX(read_all(fd.get()), std::string(what) + ": " + path);
}

size_t virtio_count(const VmConfig& config) {
    return config.disks.size() + config.pmem.size() + (config.console_ports.empty() ? 0 : 1);
}

ErrorOr<void> check_config(const VmConfig& config) {
    if (config.memory_mib < kMinMemoryMib || config.memory_mib > (layout::kMaxMemory >> 20))
        return fail("memory: " + std::to_string(config.memory_mib) + " MiB, not between " +
                    std::to_string(kMinMemoryMib) + " and " + std::to_string(layout::kMaxMemory >> 20) +
                    " MiB");
    // An xAPIC id is 8 bits, and 255 is the broadcast address.
    if (config.vcpus == 0 || config.vcpus > kMaxVcpus)
        return fail("vCPUs: " + std::to_string(config.vcpus) + ", not between 1 and " +
                    std::to_string(kMaxVcpus));
    if (virtio_count(config) > kMaxVirtioDevices)
        return fail("disks, pmem and console: " + std::to_string(virtio_count(config)) +
                    " devices, more than the " + std::to_string(kMaxVirtioDevices) +
                    " interrupt lines for them");
    return {};
}

// The first outcome of the VM: the guest's exit code, or a vCPU's failure. Later ones (a second
// vCPU failing as the VM stops) are dropped.
class Outcome {
public:
    void set(ErrorOr<int> result) {
        {
            std::lock_guard lock(mutex_);
            if (result_) return;
            result_ = std::move(result);
        }
        done_.notify_all();
    }
    // Waits for the outcome, or until `timeout` (zero: for ever) has passed.
    std::optional<ErrorOr<int>> wait(std::chrono::milliseconds timeout) {
        std::unique_lock lock(mutex_);
        if (timeout.count() == 0)
            done_.wait(lock, [&] { return result_.has_value(); });
        else
            done_.wait_for(lock, timeout, [&] { return result_.has_value(); });
        return result_;
    }

private:
    std::mutex mutex_;
    std::condition_variable done_;
    std::optional<ErrorOr<int>> result_;
};

// Where virtio device `index` sits, and its interrupt line.
uint64_t virtio_address(size_t index) { return layout::kVirtioMmioBase + index * kVirtioMmioSize; }
uint32_t virtio_gsi(size_t index) { return kVirtioFirstGsi + static_cast<uint32_t>(index); }

// The user's command line and, after it, how the guest finds each virtio device.
std::string guest_cmdline(const VmConfig& config) {
    std::string cmdline = config.cmdline;
    for (size_t i = 0; i < virtio_count(config); ++i)
        cmdline += (cmdline.empty() ? "" : " ") + virtio_mmio_cmdline(virtio_address(i), virtio_gsi(i));
    return cmdline;
}

// Loads the kernel, the initrd and the boot data into fresh guest memory; returns how the boot
// vCPU enters the kernel. No KVM yet: a bad image fails here, on any host.
ErrorOr<BootEntry> load_guest(const VmConfig& config, const GuestMemory& memory) {
    std::string kernel_image = TRY(read_image(config.kernel, memory.size(), "kernel"));
    std::string initrd;
    if (!config.initrd.empty()) initrd = TRY(read_image(config.initrd, memory.size(), "initrd"));
    auto entry = TRY(load_kernel(config.kernel, kernel_image, {guest_cmdline(config), initrd}, memory));
    TRY(write_boot_tables(memory));
    return entry;
}

// The pmem files, mapped and placed before KVM is opened: a bad file fails on any host. They are
// created before the VM, so that their mappings outlive its memory slots.
struct PlacedPmem {
    PmemRegion region;
    uint64_t guest_address;
};
ErrorOr<std::vector<PlacedPmem>> open_pmem(const VmConfig& config) {
    std::vector<PmemRegion> regions;
    std::vector<uint64_t> sizes;
    for (const auto& pmem : config.pmem) {
        regions.push_back(TRY(PmemRegion::open(pmem.path, pmem.read_only)));
        sizes.push_back(regions.back().size());
    }
    auto addresses = TRY(place_pmem(uint64_t{config.memory_mib} << 20, sizes));
    std::vector<PlacedPmem> placed;
    for (size_t i = 0; i < regions.size(); ++i) placed.push_back({std::move(regions[i]), addresses[i]});
    return placed;
}

// The virtio devices (the disks, the pmem, then the console), each behind a virtio-mmio transport
// on the MMIO bus. The devices, declared last, are destroyed first: one with a thread of its own
// (the console) stops it before the transport the thread kicks is gone.
struct VirtioDevices {
    std::vector<std::unique_ptr<VirtioMmio>> transports;
    std::vector<std::unique_ptr<VirtioDevice>> devices;
};
ErrorOr<void> add_virtio(std::unique_ptr<VirtioDevice> device, const Vm& vm, DeviceBus& mmio,
                         VirtioDevices& virtio) {
    size_t index = virtio.devices.size();
    auto& added = virtio.devices.emplace_back(std::move(device));
    auto& transport = virtio.transports.emplace_back(
        std::make_unique<VirtioMmio>(*added, vm.memory(), IrqLine(vm.fd(), virtio_gsi(index))));
    TRY(added->start(*transport));
    return mmio.add(virtio_address(index), kVirtioMmioSize, *transport);
}
ErrorOr<void> add_devices(const VmConfig& config, const std::vector<PlacedPmem>& pmem, const Vm& vm,
                          DeviceBus& mmio, VirtioDevices& virtio) {
    for (const auto& disk : config.disks)
        TRY(add_virtio(TRY(VirtioBlk::open(disk.path, disk.read_only, disk.serial, vm.memory())), vm, mmio,
                       virtio));
    for (size_t i = 0; i < pmem.size(); ++i) {
        auto& [region, address] = pmem[i];
        // Slot 0 is RAM.
        TRY_CTX(vm.map_memory(static_cast<uint32_t>(i + 1), address, region.size(), region.host_address(),
                              region.read_only()),
                "pmem " + config.pmem[i].path);
        TRY(add_virtio(std::make_unique<VirtioPmem>(region, address, vm.memory()), vm, mmio, virtio));
    }
    if (!config.console_ports.empty())
        TRY(add_virtio(TRY(VirtioConsole::create(config.console_ports, vm.memory())), vm, mmio, virtio));
    return {};
}

// The UART and its host input. The input's thread feeds the UART: it is stopped before the UART
// goes, on every path out of run_vm.
struct SerialConsole {
    std::unique_ptr<SerialInput> input;
    std::optional<Serial> serial;
    ~SerialConsole() {
        if (input) input->stop();
    }
};
ErrorOr<void> start_serial(const VmConfig& config, const Vm& vm, SerialConsole& console) {
    if (config.serial_input_fd >= 0) console.input = TRY(SerialInput::create(config.serial_input_fd));
    Serial::Hooks hooks;
    hooks.interrupt = [line = IrqLine(vm.fd(), kSerialGsi)](bool level) {
        // Fails only for a VM without its irqchip, which Vm::create made.
        if (auto result = line.set(level); !result) log::warn("serial: " + result.error().message);
    };
    if (console.input) hooks.wants_input = [input = console.input.get()] { input->wants_input(); };
    console.serial.emplace(config.console_fd, std::move(hooks));
    if (console.input) TRY(console.input->start(*console.serial));
    return {};
}

}  // namespace

ErrorOr<int> run_vm(const VmConfig& config) {
    TRY(check_config(config));
    auto memory = TRY(GuestMemory::create(uint64_t{config.memory_mib} << 20, config.merge_memory));
    BootEntry boot = TRY(load_guest(config, memory));
    auto pmem = TRY(open_pmem(config));

    auto kvm = TRY(Kvm::open());
    if (config.vcpus > kvm.max_vcpus())
        return fail("vCPUs: " + std::to_string(config.vcpus) + ", more than this host's KVM allows (" +
                    std::to_string(kvm.max_vcpus()) + ")");
    auto vm = TRY(Vm::create(std::move(kvm), std::move(memory)));
    std::vector<Vcpu> vcpus;
    vcpus.reserve(config.vcpus);
    for (uint32_t i = 0; i < config.vcpus; ++i) vcpus.push_back(TRY(Vcpu::create(vm, i, config.vcpus)));
    // Only the boot vCPU starts at the kernel: the others wait, in the kernel, for the start-up
    // IPIs the guest sends them through its LAPIC.
    TRY_CTX(set_boot_entry(vcpus[0].fd(), boot), "vCPU 0");

    Outcome outcome;
    SerialConsole console;
    TRY(start_serial(config, vm, console));
    ExitDevice exit_device([&](int code) { outcome.set(code); });
    DeviceBus io("port I/O"), mmio("MMIO");
    TRY(io.add(kSerialPort, kSerialPortCount, *console.serial));
    TRY(io.add(kExitPort, kExitPortCount, exit_device));
    VirtioDevices virtio;
    TRY(add_devices(config, pmem, vm, mmio, virtio));

    auto threads =
        TRY(VcpuThreads::start(vcpus, io, mmio, [&](Error e) { outcome.set(std::unexpected(e)); }));
    auto result = outcome.wait(config.timeout);
    threads.reset();  // stops and joins every vCPU before the devices go
    console.serial->flush();
    if (!result)
        return fail("the guest ran past its time limit (" + std::to_string(config.timeout.count()) +
                    " ms) without exiting");
    return *result;
}

}  // namespace hutch::microvm
