// An image's kernel requirements against a kernel's facts, and the backend chosen from them
// (kernel_requirements.h). Nothing here reads a file: every fact comes in as an argument.
#include "cli/hutch/kernel_requirements.h"

#include <charconv>

namespace hutch::cli {
namespace {

// An image's labels can hold anything: a message quotes at most this much of one.
std::string quoted(std::string_view text) {
    constexpr size_t kMost = 64;
    return "\"" + std::string(text.substr(0, kMost)) + (text.size() > kMost ? "...\"" : "\"");
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Leading digits of text as a number, consumed from text; nullopt when there are none or too many
// (no kernel has a six-digit version part, and a bound keeps the arithmetic trivially safe).
std::optional<long> take_number(std::string_view& text) {
    size_t digits = 0;
    while (digits < text.size() && is_digit(text[digits])) ++digits;
    if (digits == 0 || digits > 6) return std::nullopt;
    long value = 0;
    std::from_chars(text.data(), text.data() + digits, value);
    text.remove_prefix(digits);
    return value;
}

// MAJOR.MINOR[.PATCH] from the front of text, consumed; nullopt when it does not start so.
std::optional<KernelVersion> take_version(std::string_view& text) {
    KernelVersion v;
    auto major = take_number(text);
    if (!major || !text.starts_with('.')) return std::nullopt;
    text.remove_prefix(1);
    auto minor = take_number(text);
    if (!minor) return std::nullopt;
    v.major = *major;
    v.minor = *minor;
    if (text.size() >= 2 && text[0] == '.' && is_digit(text[1])) {
        text.remove_prefix(1);
        auto patch = take_number(text);
        if (!patch) return std::nullopt;
        v.patch = *patch;
    }
    return v;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
    return text;
}

bool is_option_name(std::string_view name) {
    if (!name.starts_with("CONFIG_") || name.size() == 7) return false;
    for (char c : name.substr(7))
        if (!(is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_')) return false;
    return true;
}

ErrorOr<ConfigOption> parse_option(std::string_view item) {
    ConfigOption option;
    if (item.ends_with("=y")) {
        option.builtin = true;
        item.remove_suffix(2);
    }
    if (!is_option_name(item)) return fail(quoted(item) + " is not CONFIG_NAME or CONFIG_NAME=y");
    option.name = std::string(item);
    return option;
}

ErrorOr<std::vector<ConfigOption>> parse_options(std::string_view text) {
    std::vector<ConfigOption> options;
    while (true) {
        size_t comma = text.find(',');
        options.push_back(TRY(parse_option(trim(text.substr(0, comma)))));
        if (comma == std::string_view::npos) return options;
        text.remove_prefix(comma + 1);
    }
}

// "# Linux/x86_64 6.1.192 Kernel Configuration": the release after the architecture.
std::optional<KernelVersion> header_version(std::string_view line) {
    if (!line.starts_with("# Linux/") || !line.ends_with(" Kernel Configuration")) return std::nullopt;
    size_t space = line.find(' ', 8);
    if (space == std::string_view::npos) return std::nullopt;
    auto release = parse_kernel_release(line.substr(space + 1));
    return release ? std::optional(*release) : std::nullopt;
}

std::optional<Shortfall> version_shortfall(const KernelVersion& needed, const KernelFacts& kernel) {
    std::string need = "kernel >= " + needed.str();
    if (!kernel.version)
        return Shortfall{need,
                         "and the version of " + kernel.name + " is unknown (" + kernel.version_error + ")"};
    if (*kernel.version < needed)
        return Shortfall{need, "and " + kernel.name + " is " + kernel.version->str()};
    return std::nullopt;
}

std::optional<Shortfall> option_shortfall(const ConfigOption& option, const KernelFacts& kernel) {
    if (!kernel.config)
        return Shortfall{option.str(), "and the config of " + kernel.name + " cannot be read (" +
                                           kernel.config_error + ")"};
    auto found = kernel.config->values.find(option.name);
    std::string value = found == kernel.config->values.end() ? "" : found->second;
    if (value == "y" || (value == "m" && !option.builtin)) return std::nullopt;
    if (value == "m") return Shortfall{option.str(), "which " + kernel.name + " has only as a module"};
    return Shortfall{option.str(), "which " + kernel.name + " lacks"};
}

}  // namespace

std::string KernelVersion::str() const {
    return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

ErrorOr<KernelVersion> parse_label_version(std::string_view text) {
    std::string_view rest = text;
    auto version = take_version(rest);
    if (!version || !rest.empty()) return fail(quoted(text) + " is not a version such as 6.8 or 6.8.2");
    return *version;
}

ErrorOr<KernelVersion> parse_kernel_release(std::string_view release) {
    std::string_view rest = release;
    auto version = take_version(rest);
    // "6.1.0-18-amd64", "6.8-rc1", "6.18.44+": a digit right after the version would be a part
    // too long to be one.
    if (!version || (!rest.empty() && is_digit(rest.front())))
        return fail("kernel release " + quoted(release) + " does not start with MAJOR.MINOR");
    return *version;
}

ErrorOr<KernelRequirements> parse_kernel_requirements(const std::map<std::string, std::string>& labels) {
    KernelRequirements needs;
    if (auto it = labels.find(std::string(kKernelMinVersionLabel)); it != labels.end())
        needs.min_version = TRY_CTX(parse_label_version(it->second), "image label " + it->first);
    if (auto it = labels.find(std::string(kKernelConfigLabel)); it != labels.end())
        needs.options = TRY_CTX(parse_options(it->second), "image label " + it->first);
    return needs;
}

KernelConfig parse_kernel_config(std::string_view text) {
    KernelConfig config;
    while (!text.empty()) {
        size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        if (size_t eq = line.find('='); line.starts_with("CONFIG_") && eq != std::string_view::npos)
            config.values.insert_or_assign(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
        else if (!config.version)
            config.version = header_version(line);
    }
    return config;
}

std::optional<Shortfall> first_shortfall(const KernelRequirements& needs, const KernelFacts& kernel) {
    if (needs.min_version)
        if (auto shortfall = version_shortfall(*needs.min_version, kernel)) return shortfall;
    for (const auto& option : needs.options)
        if (auto shortfall = option_shortfall(option, kernel)) return shortfall;
    return std::nullopt;
}

ErrorOr<VmMode> parse_vm_mode(std::string_view text) {
    if (text == "auto") return VmMode::automatic;
    if (text == "always") return VmMode::always;
    if (text == "never") return VmMode::never;
    return fail("--vm=" + std::string(text.substr(0, 64)) +
                ": expected --vm, --vm=auto, --vm=always or --vm=never");
}

ErrorOr<BackendChoice> choose_backend(VmMode mode, std::string_view image, const KernelRequirements& needs,
                                      const std::function<KernelFacts()>& host,
                                      const std::function<ErrorOr<KernelFacts>()>& guest) {
    std::string name(image);
    std::optional<Shortfall> on_host;
    if (mode != VmMode::always) {
        // An image that declares nothing runs where it always has: no kernel is read for it.
        if (needs.empty() || !(on_host = first_shortfall(needs, host()))) return BackendChoice{};
        if (mode == VmMode::never)
            return fail(name + " cannot run on this host: it needs " + on_host->str() +
                        " (and --vm=never rules out a microVM)");
    }
    BackendChoice choice{.backend = Backend::microvm, .notice = {}};
    // When auto fell back, a refusal says why the host would not do before why the VM would not.
    std::string why_not_host =
        on_host ? name + " cannot run on this host: it needs " + on_host->str() + "; " : "";
    if (!needs.empty()) {
        auto kernel = guest();
        if (!kernel)
            return fail(why_not_host + (on_host ? "and for a microVM: " : "") + kernel.error().message);
        if (auto on_guest = first_shortfall(needs, *kernel))
            return fail(why_not_host + (on_host ? "nor in a microVM" : name + " cannot run in a microVM") +
                        ": it needs " + on_guest->str());
    }
    if (on_host) choice.notice = "running " + name + " in a microVM: it needs " + on_host->str();
    return choice;
}

}  // namespace hutch::cli
