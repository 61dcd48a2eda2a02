// The section parsers behind parse_spec(), one file per section. Private to spec/.
// Each takes the JSON value of its section and the section's field path, and returns the
// section or an error naming the offending field.
#pragma once

#include <string>

#include "base/json_reader.h"
#include "spec/spec.h"

namespace hutch::spec::detail {

ErrorOr<Process> parse_process(const json::Json& value, const std::string& path);
ErrorOr<Linux> parse_linux(const json::Json& value, const std::string& path);
ErrorOr<Resources> parse_resources(const json::Json& value, const std::string& path);
ErrorOr<Seccomp> parse_seccomp(const json::Json& value, const std::string& path);
// parse_kernel_attributes.cpp: each from the object that holds it ("process" or "linux").
ErrorOr<std::optional<Scheduler>> parse_scheduler(const json::Json& process);
ErrorOr<std::optional<IoPriority>> parse_io_priority(const json::Json& process);
ErrorOr<std::optional<ExecCpuAffinity>> parse_exec_cpu_affinity(const json::Json& process);
ErrorOr<std::optional<Personality>> parse_personality(const json::Json& linux_value);
ErrorOr<std::optional<MemoryPolicy>> parse_memory_policy(const json::Json& linux_value);

// One entry of uidMappings or gidMappings (linux's, or a mount's), its size above zero.
ErrorOr<IdMapping> parse_id_mapping(const json::Json& value, const std::string& path);

// Checks that need more than one section (namespaces against hostname, sysctl, id mappings).
ErrorOr<void> validate_spec(const Spec& spec);

// "PATH: must be an absolute path" unless value starts with '/'.
ErrorOr<void> check_absolute(const std::string& value, const std::string& path);

// Reads object[key] as a list of absolute paths.
ErrorOr<void> read_absolute_paths(const json::Json& object, const std::string& path, const char* key,
                                  std::vector<std::string>& out);

}  // namespace hutch::spec::detail
