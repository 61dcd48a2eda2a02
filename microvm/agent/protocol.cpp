#include "microvm/agent/protocol.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/json.h"
#include "base/json_reader.h"

namespace hutch::microvm {

namespace {

constexpr size_t header_size = 5;

// Frame sizes and exec numbers: 4 bytes, little-endian.
void append_le32(std::string& out, uint32_t value) {
    for (int i = 0; i < 4; ++i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

uint32_t read_le32(std::string_view bytes) {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) value |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << (8 * i);
    return value;
}

bool known_kind(uint8_t kind) {
    switch (static_cast<FrameKind>(kind)) {
        case FrameKind::config:
        case FrameKind::go:
        case FrameKind::signal:
        case FrameKind::window_size:
        case FrameKind::prepared:
        case FrameKind::started:
        case FrameKind::stdout_data:
        case FrameKind::stderr_data:
        case FrameKind::exit:
        case FrameKind::failure:
        case FrameKind::exec_start:
        case FrameKind::exec_stdin:
        case FrameKind::exec_signal:
        case FrameKind::exec_window_size:
        case FrameKind::exec_started:
        case FrameKind::exec_stdout:
        case FrameKind::exec_stderr:
        case FrameKind::exec_exit:
        case FrameKind::exec_failure:
        case FrameKind::update:
        case FrameKind::stats:
        case FrameKind::processes: return true;
    }
    return false;
}

nlohmann::json rlimits_json(const std::vector<GuestRlimit>& rlimits) {
    auto list = nlohmann::json::array();
    for (const auto& r : rlimits)
        list.push_back({{"resource", r.resource}, {"soft", r.soft}, {"hard", r.hard}});
    return list;
}

ErrorOr<GuestRlimit> parse_rlimit(const nlohmann::json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    GuestRlimit rlimit;
    rlimit.resource = TRY(json::require<int>(value, path, "resource"));
    rlimit.soft = TRY(json::require<uint64_t>(value, path, "soft"));
    rlimit.hard = TRY(json::require<uint64_t>(value, path, "hard"));
    return rlimit;
}

// A map of counters (memory.stat's, hugetlb's by page size).
ErrorOr<std::map<std::string, uint64_t>> parse_counters(const nlohmann::json& value,
                                                        const std::string& path) {
    TRY(json::expect_object(value, path));
    std::map<std::string, uint64_t> counters;
    for (const auto& [key, number] : value.items())
        counters[key] = TRY(json::as_integer<uint64_t>(number, json::field_path(path, key)));
    return counters;
}

nlohmann::json stats_json(const cgroups::Stats& stats) {
    const auto& cpu = stats.cpu;
    const auto& memory = stats.memory;
    return {{"cpu",
             {{"totalNs", cpu.total_ns},
              {"userNs", cpu.user_ns},
              {"kernelNs", cpu.kernel_ns},
              {"perCpuNs", cpu.per_cpu_ns},
              {"periods", cpu.periods},
              {"throttledPeriods", cpu.throttled_periods},
              {"throttledNs", cpu.throttled_ns}}},
            {"memory",
             {{"usage", memory.usage},
              {"maxUsage", memory.max_usage},
              {"limit", memory.limit},
              {"failcnt", memory.failcnt},
              {"swapUsage", memory.swap_usage},
              {"swapLimit", memory.swap_limit},
              {"raw", memory.raw}}},
            {"pids", {{"current", stats.pids.current}, {"limit", stats.pids.limit}}},
            {"oomKills", stats.oom_kills},
            {"hugetlbUsage", stats.hugetlb_usage}};
}

ErrorOr<cgroups::Stats::Cpu> parse_cpu_stats(const nlohmann::json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    cgroups::Stats::Cpu cpu;
    TRY(json::read(value, path, "totalNs", cpu.total_ns));
    TRY(json::read(value, path, "userNs", cpu.user_ns));
    TRY(json::read(value, path, "kernelNs", cpu.kernel_ns));
    TRY(json::read(value, path, "perCpuNs", cpu.per_cpu_ns));
    TRY(json::read(value, path, "periods", cpu.periods));
    TRY(json::read(value, path, "throttledPeriods", cpu.throttled_periods));
    TRY(json::read(value, path, "throttledNs", cpu.throttled_ns));
    return cpu;
}

ErrorOr<cgroups::Stats::Memory> parse_memory_stats(const nlohmann::json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    cgroups::Stats::Memory memory;
    TRY(json::read(value, path, "usage", memory.usage));
    TRY(json::read(value, path, "maxUsage", memory.max_usage));
    TRY(json::read(value, path, "limit", memory.limit));
    TRY(json::read(value, path, "failcnt", memory.failcnt));
    TRY(json::read(value, path, "swapUsage", memory.swap_usage));
    TRY(json::read(value, path, "swapLimit", memory.swap_limit));
    if (const auto* raw = json::member(value, "raw")) memory.raw = TRY(parse_counters(*raw, path + ".raw"));
    return memory;
}

nlohmann::json volumes_json(const std::vector<GuestVolume>& volumes) {
    auto list = nlohmann::json::array();
    for (const auto& v : volumes) list.push_back({{"path", v.path}, {"readonly", v.readonly}});
    return list;
}

ErrorOr<void> expect_absolute(const std::string& path, const std::string& field) {
    if (!path.starts_with('/')) return fail(field + ": not an absolute path: " + path);
    return {};
}

ErrorOr<GuestVolume> parse_volume(const nlohmann::json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    GuestVolume volume;
    volume.path = TRY(json::require<std::string>(value, path, "path"));
    TRY(expect_absolute(volume.path, path + ".path"));
    TRY(json::read(value, path, "readonly", volume.readonly));
    return volume;
}

// Hex, since a JSON string holds only UTF-8 and a file may hold anything.
std::string to_hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(bytes.size() * 2);
    for (unsigned char b : bytes) hex += {digits[b >> 4], digits[b & 15]};
    return hex;
}

ErrorOr<std::string> from_hex(std::string_view hex, const std::string& field) {
    if (hex.size() % 2 != 0) return fail(field + ": not hex");
    std::string bytes(hex.size() / 2, '\0');
    for (size_t i = 0; i < bytes.size(); ++i) {
        unsigned value = 0;
        auto [end, ec] = std::from_chars(hex.data() + 2 * i, hex.data() + 2 * i + 2, value, 16);
        if (ec != std::errc() || end != hex.data() + 2 * i + 2) return fail(field + ": not hex");
        bytes[i] = static_cast<char>(value);
    }
    return bytes;
}

nlohmann::json files_json(const std::vector<GuestFile>& files) {
    auto list = nlohmann::json::array();
    for (const auto& f : files)
        list.push_back({{"path", f.path}, {"content", to_hex(f.content)}, {"mode", f.mode}});
    return list;
}

ErrorOr<GuestFile> parse_file(const nlohmann::json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    GuestFile file;
    file.path = TRY(json::require<std::string>(value, path, "path"));
    TRY(expect_absolute(file.path, path + ".path"));
    file.content = TRY(from_hex(TRY(json::require<std::string>(value, path, "content")), path + ".content"));
    TRY(json::read(value, path, "mode", file.mode));
    if (file.mode > 07777) return fail(path + ".mode: more than permission bits");
    return file;
}

nlohmann::json capabilities_json(const GuestCapabilities& caps) {
    return {{"bounding", caps.bounding},
            {"effective", caps.effective},
            {"permitted", caps.permitted},
            {"inheritable", caps.inheritable},
            {"ambient", caps.ambient}};
}

ErrorOr<GuestCapabilities> parse_capabilities(const nlohmann::json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    GuestCapabilities caps;
    TRY(json::read(value, path, "bounding", caps.bounding));
    TRY(json::read(value, path, "effective", caps.effective));
    TRY(json::read(value, path, "permitted", caps.permitted));
    TRY(json::read(value, path, "inheritable", caps.inheritable));
    TRY(json::read(value, path, "ambient", caps.ambient));
    return caps;
}

// The program's instructions as hex of their bytes, in the host's (and the guest's) byte order.
nlohmann::json seccomp_json(const GuestSeccomp& seccomp) {
    std::string_view bytes(reinterpret_cast<const char*>(seccomp.program.data()),
                           seccomp.program.size() * sizeof(sock_filter));
    return {{"program", to_hex(bytes)}, {"flags", seccomp.flags}};
}

// The kernel's own bounds on a program: 1 to BPF_MAXINSNS instructions.
ErrorOr<GuestSeccomp> parse_seccomp(const nlohmann::json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    GuestSeccomp seccomp;
    std::string bytes =
        TRY(from_hex(TRY(json::require<std::string>(value, path, "program")), path + ".program"));
    size_t count = bytes.size() / sizeof(sock_filter);
    if (bytes.size() % sizeof(sock_filter) != 0 || count == 0 || count > BPF_MAXINSNS)
        return fail(path + ".program: not 1 to " + std::to_string(BPF_MAXINSNS) + " BPF instructions");
    seccomp.program.resize(count);
    std::memcpy(seccomp.program.data(), bytes.data(), bytes.size());
    TRY(json::read(value, path, "flags", seccomp.flags));
    return seccomp;
}

nlohmann::json security_json(const GuestSecurity& security) {
    auto j = nlohmann::json::object({{"noNewPrivileges", security.no_new_privileges}});
    if (security.capabilities) j["capabilities"] = capabilities_json(*security.capabilities);
    if (security.seccomp) j["seccomp"] = seccomp_json(*security.seccomp);
    return j;
}

ErrorOr<GuestSecurity> parse_security(const nlohmann::json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    GuestSecurity security;
    TRY(json::read(value, path, "noNewPrivileges", security.no_new_privileges));
    if (const auto* caps = json::member(value, "capabilities"))
        security.capabilities = TRY(parse_capabilities(*caps, path + ".capabilities"));
    if (const auto* seccomp = json::member(value, "seccomp"))
        security.seccomp = TRY(parse_seccomp(*seccomp, path + ".seccomp"));
    return security;
}

// The namespaces the guest makes for a container, by config.json's names.
constexpr std::array<std::pair<std::string_view, unsigned long>, 5> guest_namespace_names = {{
    {"pid", CLONE_NEWPID},
    {"ipc", CLONE_NEWIPC},
    {"uts", CLONE_NEWUTS},
    {"mount", CLONE_NEWNS},
    {"cgroup", CLONE_NEWCGROUP},
}};

nlohmann::json namespaces_json(unsigned long flags) {
    nlohmann::json names = nlohmann::json::array();
    for (auto [name, flag] : guest_namespace_names)
        if (flags & flag) names.push_back(name);
    return names;
}

ErrorOr<unsigned long> parse_namespaces(const nlohmann::json& value, const std::string& path) {
    if (!value.is_array()) return fail(path + ": not a list");
    unsigned long flags = 0;
    for (const auto& name : value) {
        auto known = std::ranges::find_if(guest_namespace_names, [&](const auto& entry) {
            return name.is_string() && name.get_ref<const std::string&>() == entry.first;
        });
        if (known == guest_namespace_names.end())
            return fail(path + ": not a namespace the guest makes: " + json_text(name));
        flags |= known->second;
    }
    return flags;
}

nlohmann::json window_size_json(WindowSize size) { return {{"rows", size.rows}, {"cols", size.cols}}; }

ErrorOr<WindowSize> parse_window_size(const nlohmann::json& value, const std::string& path) {
    TRY(json::expect_object(value, path));
    WindowSize size;
    size.rows = TRY(json::require<uint16_t>(value, path, "rows"));
    size.cols = TRY(json::require<uint16_t>(value, path, "cols"));
    return size;
}

// A decimal number of a uint16_t, the whole of text.
ErrorOr<uint16_t> parse_dimension(std::string_view text) {
    uint16_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || text.empty())
        return fail("not a window dimension: " + std::string(text.substr(0, 20)));
    return value;
}

}  // namespace

std::string encode_frame(FrameKind kind, std::string_view payload) {
    std::string frame(1, static_cast<char>(kind));
    append_le32(frame, static_cast<uint32_t>(payload.size()));
    frame.append(payload);
    return frame;
}

std::string encode_exec_frame(FrameKind kind, uint32_t exec, std::string_view data) {
    std::string payload;
    append_le32(payload, exec);
    payload.append(data);
    return encode_frame(kind, payload);
}

ErrorOr<ExecPayload> parse_exec_payload(std::string_view payload) {
    if (payload.size() < 4) return fail("an exec frame without its exec's number");
    return ExecPayload{read_le32(payload), payload.substr(4)};
}

bool is_host_exec_frame(FrameKind kind) {
    return opens_exec(kind) || kind == FrameKind::exec_stdin || kind == FrameKind::exec_signal ||
           kind == FrameKind::exec_window_size;
}

bool opens_exec(FrameKind kind) { return kind == FrameKind::exec_start || is_cgroup_request(kind); }

bool is_cgroup_request(FrameKind kind) {
    return kind == FrameKind::update || kind == FrameKind::stats || kind == FrameKind::processes;
}

ErrorOr<std::optional<Frame>> FrameReader::next() {
    if (buffer_.size() < header_size) return std::optional<Frame>{};
    auto kind = static_cast<uint8_t>(buffer_[0]);
    if (!known_kind(kind)) return fail("frame of unknown kind " + std::to_string(kind));
    uint32_t size = read_le32(std::string_view(buffer_).substr(1));
    if (size > max_frame_payload) return fail("frame of " + std::to_string(size) + " bytes: too large");
    if (buffer_.size() < header_size + size) return std::optional<Frame>{};
    Frame frame{static_cast<FrameKind>(kind), buffer_.substr(header_size, size)};
    buffer_.erase(0, header_size + size);
    return std::optional<Frame>{std::move(frame)};
}

ErrorOr<std::optional<Frame>> read_frame(int fd, FrameReader& reader) {
    for (;;) {
        if (auto frame = TRY(reader.next())) return frame;
        char buf[4096];
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("read");
        if (n == 0) return std::optional<Frame>{};
        reader.feed({buf, static_cast<size_t>(n)});
    }
}

std::string to_json(const GuestConfig& config) {
    nlohmann::json j = {{"args", config.args},
                        {"env", config.env},
                        {"cwd", config.cwd},
                        {"uid", config.uid},
                        {"gid", config.gid},
                        {"additionalGids", config.additional_gids},
                        {"hostname", config.hostname},
                        {"namespaces", namespaces_json(config.namespaces)},
                        {"layers", config.layers},
                        {"rlimits", rlimits_json(config.rlimits)},
                        {"readonlyRoot", config.readonly_root},
                        {"tmpfs", config.tmpfs},
                        {"volumes", volumes_json(config.volumes)},
                        {"files", files_json(config.files)},
                        {"limits", limits_json(config.limits)},
                        {"security", security_json(config.security)},
                        {"terminal", config.terminal},
                        {"windowSize", window_size_json(config.window_size)}};
    return json_text(j);
}

ErrorOr<GuestConfig> parse_guest_config(std::string_view text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return fail("guest config: not JSON");
    TRY_CTX(json::expect_object(j, ""), "guest config");
    GuestConfig config;
    config.args = TRY_CTX(json::require<std::vector<std::string>>(j, "", "args"), "guest config");
    if (config.args.empty()) return fail("guest config: args: empty");
    TRY_CTX(json::read(j, "", "env", config.env), "guest config");
    TRY_CTX(json::read(j, "", "cwd", config.cwd), "guest config");
    TRY_CTX(json::read(j, "", "uid", config.uid), "guest config");
    TRY_CTX(json::read(j, "", "gid", config.gid), "guest config");
    TRY_CTX(json::read(j, "", "additionalGids", config.additional_gids), "guest config");
    TRY_CTX(json::read(j, "", "hostname", config.hostname), "guest config");
    if (const auto* namespaces = json::member(j, "namespaces"))
        config.namespaces = TRY_CTX(parse_namespaces(*namespaces, "namespaces"), "guest config");
    config.layers = TRY_CTX(json::require<unsigned>(j, "", "layers"), "guest config");
    TRY_CTX(json::read_list(j, "", "rlimits", config.rlimits, parse_rlimit), "guest config");
    TRY_CTX(json::read(j, "", "readonlyRoot", config.readonly_root), "guest config");
    TRY_CTX(json::read(j, "", "tmpfs", config.tmpfs), "guest config");
    TRY_CTX(json::read_list(j, "", "volumes", config.volumes, parse_volume), "guest config");
    TRY_CTX(json::read_list(j, "", "files", config.files, parse_file), "guest config");
    if (const auto* limits = json::member(j, "limits"))
        config.limits = TRY_CTX(parse_limits(*limits, "limits"), "guest config");
    if (const auto* security = json::member(j, "security"))
        config.security = TRY_CTX(parse_security(*security, "security"), "guest config");
    TRY_CTX(json::read(j, "", "terminal", config.terminal), "guest config");
    if (const auto* size = json::member(j, "windowSize"))
        config.window_size = TRY_CTX(parse_window_size(*size, "windowSize"), "guest config");
    for (const auto& path : config.tmpfs) TRY_CTX(expect_absolute(path, "tmpfs"), "guest config");
    TRY_CTX(expect_absolute(config.cwd, "cwd"), "guest config");
    return config;
}

std::string to_json(const cgroups::Stats& stats) { return json_text(stats_json(stats)); }

// The host reads the guest's answer as untrusted input: every field is checked, none is required.
ErrorOr<cgroups::Stats> parse_guest_stats(std::string_view text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return fail("stats: not JSON");
    TRY_CTX(json::expect_object(j, ""), "stats");
    cgroups::Stats stats;
    if (const auto* cpu = json::member(j, "cpu")) stats.cpu = TRY_CTX(parse_cpu_stats(*cpu, "cpu"), "stats");
    if (const auto* memory = json::member(j, "memory"))
        stats.memory = TRY_CTX(parse_memory_stats(*memory, "memory"), "stats");
    if (const auto* pids = json::member(j, "pids")) {
        TRY_CTX(json::expect_object(*pids, "pids"), "stats");
        TRY_CTX(json::read(*pids, "pids", "current", stats.pids.current), "stats");
        TRY_CTX(json::read(*pids, "pids", "limit", stats.pids.limit), "stats");
    }
    TRY_CTX(json::read(j, "", "oomKills", stats.oom_kills), "stats");
    if (const auto* hugetlb = json::member(j, "hugetlbUsage"))
        stats.hugetlb_usage = TRY_CTX(parse_counters(*hugetlb, "hugetlbUsage"), "stats");
    return stats;
}

std::string pids_json(const std::vector<pid_t>& pids) { return json_text(nlohmann::json(pids)); }

ErrorOr<std::vector<pid_t>> parse_guest_pids(std::string_view text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return fail("processes: not JSON");
    auto pids = TRY(json::convert<std::vector<pid_t>>(j, "processes"));
    if (std::ranges::any_of(pids, [](pid_t pid) { return pid <= 0; }))
        return fail("processes: a pid not above 0");
    return pids;
}

std::string int_payload(int value) { return std::to_string(value); }

ErrorOr<int> parse_int_payload(std::string_view payload) {
    int value = 0;
    auto [end, ec] = std::from_chars(payload.data(), payload.data() + payload.size(), value);
    if (ec != std::errc() || end != payload.data() + payload.size() || payload.empty())
        return fail("not a number: " + std::string(payload.substr(0, 20)));
    return value;
}

std::string window_size_payload(WindowSize size) {
    return std::to_string(size.rows) + "x" + std::to_string(size.cols);
}

ErrorOr<WindowSize> parse_window_size_payload(std::string_view payload) {
    size_t x = payload.find('x');
    if (x == std::string_view::npos) return fail("not ROWSxCOLS: " + std::string(payload.substr(0, 20)));
    return WindowSize{TRY(parse_dimension(payload.substr(0, x))),
                      TRY(parse_dimension(payload.substr(x + 1)))};
}

}  // namespace hutch::microvm
