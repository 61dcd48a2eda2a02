// What an image says it needs of the kernel, what a kernel has, and so where `hutch run` runs the
// image: on this host, or in a microVM under hutch's guest kernel (issue 17's automatic fallback).
// Pure functions of the facts given; backend_choice.h reads the facts and prints the notice.
//
// An image declares its needs in two labels of its config (README.md, `hutch run`):
//   org.hutch.kernel.min-version  "6.8" or "6.8.2": the kernel's version must be at least this
//   org.hutch.kernel.config       "CONFIG_BPF_LSM,CONFIG_IO_URING=y": each option must be built in
//                                 or a module (y or m); "=y" asks for built in only
#pragma once

#include <compare>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace hutch::cli {

inline constexpr std::string_view kKernelMinVersionLabel = "org.hutch.kernel.min-version";
inline constexpr std::string_view kKernelConfigLabel = "org.hutch.kernel.config";

struct KernelVersion {
    long major = 0, minor = 0, patch = 0;
    auto operator<=>(const KernelVersion&) const = default;
    std::string str() const;  // "6.8.0"
};

// The label's "6.8" or "6.8.2": numbers and dots only.
ErrorOr<KernelVersion> parse_label_version(std::string_view text);
// A kernel release as uname(2) or a config's header gives it ("6.1.0-18-amd64", "6.8.0-rc1"): its
// leading MAJOR.MINOR[.PATCH]; what follows is the distribution's and says nothing of features.
ErrorOr<KernelVersion> parse_kernel_release(std::string_view release);

struct ConfigOption {
    std::string name;      // "CONFIG_BPF_LSM"
    bool builtin = false;  // "CONFIG_X=y": a module will not do
    std::string str() const { return builtin ? name + "=y" : name; }
};

struct KernelRequirements {
    std::optional<KernelVersion> min_version;
    std::vector<ConfigOption> options;
    bool empty() const { return !min_version && options.empty(); }
};

// From an image config's labels; a malformed label fails with one line that names it.
ErrorOr<KernelRequirements> parse_kernel_requirements(const std::map<std::string, std::string>& labels);

// A kernel's .config (/proc/config.gz's text, /boot/config-*, the guest kernel's `config`).
struct KernelConfig {
    std::map<std::string, std::string, std::less<>> values;  // "CONFIG_X" -> "y", "m", "8", "\"text\""
    std::optional<KernelVersion> version;  // from its header: "# Linux/x86_64 6.1.192 Kernel Configuration"
};
// Lenient: lines it does not understand are skipped, as "# CONFIG_X is not set" (absent = not set).
KernelConfig parse_kernel_config(std::string_view text);

// What is known of one kernel, and what could not be learnt.
struct KernelFacts {
    std::string name;                      // for messages: "this host's kernel"
    std::optional<KernelVersion> version;  // nullopt: unknown, version_error says why
    std::string version_error;
    std::optional<KernelConfig> config;  // nullopt: unreadable, config_error says why
    std::string config_error;
};

// Why a kernel cannot run the image, as two halves of a sentence: "it needs <need>, <reason>".
struct Shortfall {
    std::string need;    // "kernel >= 6.8", "CONFIG_BPF_LSM"
    std::string reason;  // "and this host's kernel is 6.1.0", "which this host's kernel lacks"
    std::string str() const { return need + ", " + reason; }
};
// The first requirement the kernel does not meet; nullopt when it meets them all.
std::optional<Shortfall> first_shortfall(const KernelRequirements& needs, const KernelFacts& kernel);

// --vm[=auto|always|never]: bare --vm is always, no --vm is auto.
enum class VmMode { automatic, always, never };
ErrorOr<VmMode> parse_vm_mode(std::string_view text);

enum class Backend { host, microvm };
struct BackendChoice {
    Backend backend = Backend::host;
    std::string notice;  // one line for stderr when auto chose the microVM; else empty
};

// Where `hutch run` runs the image. host and guest give each kernel's facts, called only when the
// choice needs them (reading a kernel config costs an inflate), guest only for the microVM; a
// failed guest() (no guest kernel known) fails the choice. The microVM is never chosen for an
// image that its kernel cannot run either: that fails, with one line.
ErrorOr<BackendChoice> choose_backend(VmMode mode, std::string_view image, const KernelRequirements& needs,
                                      const std::function<KernelFacts()>& host,
                                      const std::function<ErrorOr<KernelFacts>()>& guest);

}  // namespace hutch::cli
