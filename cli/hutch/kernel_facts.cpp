// Reading a kernel's version and config (kernel_facts.h). /proc/config.gz is inflated with the
// ISA-L gzip stream that images/ unpacks layers with.
#include "cli/hutch/kernel_facts.h"

#include <fcntl.h>
#include <sys/utsname.h>

#include <array>
#include <cstddef>

#include "base/fd.h"
#include "base/file.h"
#include "images/layer_stream.h"

namespace hutch::cli {
namespace {

// A kernel's config is a few hundred KiB; anything far bigger is not one.
constexpr size_t kMostConfigBytes = 16 << 20;

ErrorOr<std::string> read_gzip_file(const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return fail_errno(path);
    auto stream = TRY_CTX(images::LayerStream::open(fd.get(), images::Compression::gzip), path);
    std::string text;
    std::array<std::byte, 64 * 1024> buffer{};
    while (size_t n = TRY_CTX(stream->read(buffer), path)) {
        if (text.size() + n > kMostConfigBytes) return fail(path + ": too big for a kernel config");
        text.append(reinterpret_cast<const char*>(buffer.data()), n);
    }
    return text;
}

ErrorOr<std::string> read_config_file(const std::string& path) {
    auto text = TRY(read_file(path));
    if (text.size() > kMostConfigBytes) return fail(path + ": too big for a kernel config");
    return text;
}

// /proc/config.gz first: it is the running kernel's own, where /boot may hold another's.
void read_host_config(KernelFacts& facts, const std::string& release) {
    auto proc = read_gzip_file("/proc/config.gz");
    if (proc) {
        facts.config = parse_kernel_config(*proc);
        return;
    }
    auto boot = read_config_file("/boot/config-" + release);
    if (boot) {
        facts.config = parse_kernel_config(*boot);
        return;
    }
    facts.config_error = proc.error().message + "; " + boot.error().message;
}

}  // namespace

KernelFacts host_kernel_facts(bool with_config) {
    KernelFacts facts;
    facts.name = "this host's kernel";
    struct utsname uts {};
    if (::uname(&uts) != 0) {
        facts.version_error = Error::from_errno("uname").message;
        facts.config_error = facts.version_error;
        return facts;
    }
    std::string release = uts.release;
    if (auto version = parse_kernel_release(release))
        facts.version = *version;
    else
        facts.version_error = version.error().message;
    if (with_config) read_host_config(facts, release);
    return facts;
}

KernelFacts guest_kernel_facts(const std::string& vmlinux) {
    KernelFacts facts;
    facts.name = "the microVM's kernel (" + vmlinux + ")";
    std::string path = vmlinux.substr(0, vmlinux.rfind('/') + 1) + "config";
    auto text = read_config_file(path);
    if (!text) {
        facts.config_error = text.error().message;
        facts.version_error = "it is read from its config: " + text.error().message;
        return facts;
    }
    facts.config = parse_kernel_config(*text);
    facts.version = facts.config->version;
    if (!facts.version)
        facts.version_error = path + " has no \"# Linux/ARCH VERSION Kernel Configuration\" line";
    return facts;
}

}  // namespace hutch::cli
