// `update`'s command line: runc's flags and its --resources document, turned into the limits that
// Manager::update() writes. Pure functions, unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "base/error.h"
#include "spec/spec.h"

namespace hutch::runtime {

// runc's `update` flags as written on the command line; a flag not given is absent.
struct UpdateFlags {
    std::string resources;  // --resources: a file holding a LinuxResources object, "-" for stdin
    std::optional<std::string> memory, memory_reservation, memory_swap, kernel_memory, kernel_memory_tcp;
    std::optional<std::string> cpu_shares, cpu_quota, cpu_period, cpu_rt_period, cpu_rt_runtime;
    std::optional<std::string> cpuset_cpus, cpuset_mems;
    std::optional<std::string> pids_limit, blkio_weight;
};

// A size as runc's flags take it (Docker's RAMInBytes): bytes, or a number (a fraction too) with a
// binary unit, k, m, g, t or p, optionally followed by "i" and/or "b", any case: "64m", "1.5G",
// "512KiB", "100b". "-1" is -1: unlimited.
ErrorOr<int64_t> parse_size(const std::string& text);

// The limits `update` writes: the --resources document (resources_json, when given), then each
// flag given over it. As in runc's update, a 0 leaves a limit as it is (a flag's 0 leaves the
// document's value), and an unlimited memory limit without a swap limit makes swap unlimited too.
// Errors name the flag or the document's field: "--memory: invalid size \"12q\"".
ErrorOr<spec::Resources> update_resources(const std::optional<std::string>& resources_json,
                                          const UpdateFlags& flags);

}  // namespace hutch::runtime
