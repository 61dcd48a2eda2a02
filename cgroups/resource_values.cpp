#include "cgroups/resource_values.h"

#include <charconv>

namespace hutch::cgroups {

std::string rdma_line(const std::string& device, const spec::RdmaLimit& limit) {
    std::string line = device;
    if (limit.hca_handles) line += " hca_handle=" + std::to_string(*limit.hca_handles);
    if (limit.hca_objects) line += " hca_object=" + std::to_string(*limit.hca_objects);
    return line;
}

uint64_t cpu_weight_from_shares(uint64_t shares) {
    if (shares < 2) shares = 2;
    if (shares > 262144) shares = 262144;
    return 1 + ((shares - 2) * 9999) / 262142;
}

std::string cpu_max(std::optional<int64_t> quota, std::optional<uint64_t> period) {
    std::string out = quota && *quota > 0 ? std::to_string(*quota) : "max";
    if (period && *period > 0) out += " " + std::to_string(*period);
    return out;
}

ErrorOr<int64_t> quota_of_cpu_max(std::string_view line) {
    std::string_view quota = line.substr(0, line.find_first_of(" \n"));
    if (quota == "max") return -1;
    int64_t value = 0;
    auto [end, ec] = std::from_chars(quota.data(), quota.data() + quota.size(), value);
    if (ec != std::errc() || end != quota.data() + quota.size() || value <= 0)
        return fail("cpu.max: not a quota: " + std::string(line.substr(0, 40)));
    return value;
}

uint64_t io_weight_from_blkio(uint64_t weight) {
    if (weight < 10) weight = 10;
    if (weight > 1000) weight = 1000;
    return 1 + (weight - 10) * 9999 / 990;
}

std::string bytes_or_max(int64_t value) { return value < 0 ? "max" : std::to_string(value); }

ErrorOr<std::optional<std::string>> v2_swap_max(std::optional<int64_t> limit, std::optional<int64_t> swap) {
    const std::string field = "linux.resources.memory.swap";
    int64_t memory = limit.value_or(0);
    int64_t total = swap.value_or(0);
    if (total == 0) return memory == -1 ? std::optional<std::string>("max") : std::nullopt;
    if (total == -1) return std::optional<std::string>("max");
    if (total < 0) return fail(field + ": " + std::to_string(total) + " is neither a size nor -1");
    if (memory <= 0)
        return fail(field + ": a swap limit needs a memory limit (linux.resources.memory.limit)");
    if (total < memory) {
        return fail(field + ": " + std::to_string(total) + " is below memory.limit " +
                    std::to_string(memory) + " (swap is memory+swap)");
    }
    return std::optional<std::string>(std::to_string(total - memory));
}

}  // namespace hutch::cgroups
