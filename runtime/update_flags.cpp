#include "runtime/update_flags.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

namespace hutch::runtime {
namespace {

std::string quoted(const std::string& text) { return "\"" + text + "\""; }

template <typename T>
ErrorOr<T> parse_integer(const std::string& flag, const std::string& text) {
    T value{};
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error == std::errc::result_out_of_range) return fail(flag + ": " + quoted(text) + " is out of range");
    if (error != std::errc() || end != text.data() + text.size() || text.empty())
        return fail(flag + ": expected an integer, got " + quoted(text));
    return value;
}

ErrorOr<int64_t> parse_size_flag(const std::string& flag, const std::string& text) {
    return TRY_CTX(parse_size(text), flag);
}

// The multiplier for a unit letter, 0 for none known.
int64_t unit_multiplier(char unit) {
    const std::string_view units = "kmgtp";
    size_t power = units.find(static_cast<char>(std::tolower(static_cast<unsigned char>(unit))));
    if (power == std::string_view::npos) return 0;
    return int64_t{1} << (10 * (power + 1));
}

// What stays after the number: "", " ", then a unit letter, then "i" and/or "b".
// Returns the multiplier, or 0 when suffix is not a size unit.
int64_t suffix_multiplier(std::string_view suffix) {
    if (suffix.starts_with(' ')) suffix.remove_prefix(1);
    int64_t multiplier = 1;
    if (!suffix.empty() && unit_multiplier(suffix.front()) != 0) {
        multiplier = unit_multiplier(suffix.front());
        suffix.remove_prefix(1);
    }
    auto take = [&](char c) {
        if (!suffix.empty() && std::tolower(static_cast<unsigned char>(suffix.front())) == c)
            suffix.remove_prefix(1);
    };
    take('i');
    take('b');
    return suffix.empty() ? multiplier : 0;
}

// 0 means "leave it as it is" in runc's update: such a value is taken off.
template <typename T>
void drop_zero(std::optional<T>& value) {
    if (value && *value == 0) value.reset();
}

void drop_unchanged(spec::Resources& r) {
    if (r.memory) {
        drop_zero(r.memory->limit);
        drop_zero(r.memory->reservation);
        drop_zero(r.memory->swap);
        // runc: an unlimited memory limit with no swap limit given makes memory+swap unlimited too,
        // or cgroup v1 would refuse a memory limit above memory+swap.
        if (r.memory->limit == -1 && !r.memory->swap) r.memory->swap = -1;
    }
    if (r.cpu) {
        drop_zero(r.cpu->shares);
        drop_zero(r.cpu->quota);
        drop_zero(r.cpu->period);
        drop_zero(r.cpu->realtime_runtime);
        drop_zero(r.cpu->realtime_period);
    }
    if (r.block_io) drop_zero(r.block_io->weight);
    drop_zero(r.pids_limit);
}

spec::MemoryResources& memory(spec::Resources& r) {
    if (!r.memory) r.memory.emplace();
    return *r.memory;
}

spec::CpuResources& cpu(spec::Resources& r) {
    if (!r.cpu) r.cpu.emplace();
    return *r.cpu;
}

// runc's update flags default to 0, which says "not given": a 0 leaves the document's value.
template <typename T>
void set_nonzero(std::optional<T>& field, T value) {
    if (value != 0) field = value;
}

ErrorOr<void> apply_memory_flags(const UpdateFlags& f, spec::Resources& r) {
    // Kernel memory is not accounted apart any more (cgroup v2; deprecated in v1 since Linux 5.4).
    if (f.kernel_memory) return fail("--kernel-memory: kernel memory limits are not supported");
    if (f.kernel_memory_tcp) return fail("--kernel-memory-tcp: kernel memory limits are not supported");
    if (f.memory) set_nonzero(memory(r).limit, TRY(parse_size_flag("--memory", *f.memory)));
    if (f.memory_reservation)
        set_nonzero(memory(r).reservation,
                    TRY(parse_size_flag("--memory-reservation", *f.memory_reservation)));
    if (f.memory_swap) set_nonzero(memory(r).swap, TRY(parse_size_flag("--memory-swap", *f.memory_swap)));
    return {};
}

ErrorOr<void> apply_cpu_flags(const UpdateFlags& f, spec::Resources& r) {
    if (f.cpu_shares) set_nonzero(cpu(r).shares, TRY(parse_integer<uint64_t>("--cpu-share", *f.cpu_shares)));
    if (f.cpu_quota) set_nonzero(cpu(r).quota, TRY(parse_integer<int64_t>("--cpu-quota", *f.cpu_quota)));
    if (f.cpu_period) set_nonzero(cpu(r).period, TRY(parse_integer<uint64_t>("--cpu-period", *f.cpu_period)));
    if (f.cpu_rt_period)
        set_nonzero(cpu(r).realtime_period,
                    TRY(parse_integer<uint64_t>("--cpu-rt-period", *f.cpu_rt_period)));
    if (f.cpu_rt_runtime)
        set_nonzero(cpu(r).realtime_runtime,
                    TRY(parse_integer<int64_t>("--cpu-rt-runtime", *f.cpu_rt_runtime)));
    if (f.cpuset_cpus && !f.cpuset_cpus->empty()) cpu(r).cpus = *f.cpuset_cpus;
    if (f.cpuset_mems && !f.cpuset_mems->empty()) cpu(r).mems = *f.cpuset_mems;
    return {};
}

}  // namespace

ErrorOr<int64_t> parse_size(const std::string& text) {
    if (text == "-1") return -1;
    size_t digits = 0;
    while (digits < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.'))
        ++digits;
    double number = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + digits, number);
    int64_t multiplier = suffix_multiplier(std::string_view(text).substr(digits));
    if (digits == 0 || error != std::errc() || end != text.data() + digits || multiplier == 0)
        return fail("invalid size " + quoted(text) + " (expected bytes, or a number with k, m, g, t or p)");
    double bytes = number * static_cast<double>(multiplier);
    if (!(bytes < static_cast<double>(std::numeric_limits<int64_t>::max())))
        return fail("size " + quoted(text) + " is out of range");
    return static_cast<int64_t>(bytes);
}

ErrorOr<spec::Resources> update_resources(const std::optional<std::string>& resources_json,
                                          const UpdateFlags& flags) {
    spec::Resources r;
    if (resources_json) r = TRY(spec::parse_resources_json(*resources_json));
    TRY(apply_memory_flags(flags, r));
    TRY(apply_cpu_flags(flags, r));
    if (flags.pids_limit)
        set_nonzero(r.pids_limit, TRY(parse_integer<int64_t>("--pids-limit", *flags.pids_limit)));
    if (flags.blkio_weight) {
        if (!r.block_io) r.block_io.emplace();
        set_nonzero(r.block_io->weight, TRY(parse_integer<uint16_t>("--blkio-weight", *flags.blkio_weight)));
    }
    drop_unchanged(r);
    return r;
}

}  // namespace hutch::runtime
