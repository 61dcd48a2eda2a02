// The OCI runtime-spec (1.x) data model: what config.json says, in C++ types.
// parse_spec() fills it from JSON and validates it; fields hutch does not implement are refused
// there, so everything below this part can trust what it is given.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace hutch::spec {

inline constexpr const char* kOciVersion = "1.2.0";

struct User {
    uint32_t uid = 0;
    uint32_t gid = 0;
    std::optional<uint32_t> umask;
    std::vector<uint32_t> additional_gids;
};

// process.scheduler, as sched_setattr(2) takes it: names already turned into the kernel's values.
struct Scheduler {
    uint32_t policy = 0;  // SCHED_OTHER, SCHED_FIFO, ...
    int32_t nice = 0;
    uint32_t priority = 0;
    uint64_t flags = 0;                              // SCHED_FLAG_*
    uint64_t runtime = 0, deadline = 0, period = 0;  // nanoseconds, SCHED_DEADLINE only
};

// process.ioPriority, as ioprio_set(2) takes it.
struct IoPriority {
    int io_class = 0;  // IOPRIO_CLASS_RT, _BE or _IDLE
    int priority = 0;  // 0 (highest) to 7
};

struct Capabilities {
    // Capability names as in config.json ("CAP_CHOWN"); validated against libcap's list.
    std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
};

struct Rlimit {
    std::string type;  // "RLIMIT_NOFILE"
    uint64_t soft = 0;
    uint64_t hard = 0;
};

struct ConsoleSize {
    unsigned height = 0;
    unsigned width = 0;
};

// process.execCPUAffinity (runtime-spec 1.2), for `exec` only (not the container's first
// process): CPU masks, 64 CPUs a word, parsed from lists such as "0-3,7"; empty: not set.
struct ExecCpuAffinity {
    std::vector<uint64_t> initial;     // the runtime's process, before it joins the container's cgroup
    std::vector<uint64_t> final_cpus;  // the process, once in it; empty: as the kernel leaves it
};

struct Process {
    bool terminal = false;
    std::optional<ConsoleSize> console_size;
    User user;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string cwd = "/";
    std::optional<Capabilities> capabilities;
    std::vector<Rlimit> rlimits;
    bool no_new_privileges = false;
    std::optional<int> oom_score_adj;
    std::optional<Scheduler> scheduler;
    std::optional<IoPriority> io_priority;
    std::optional<ExecCpuAffinity> exec_cpu_affinity;
    std::string selinux_label;  // applied where SELinux is enabled, ignored elsewhere (as crun)
};

struct Root {
    std::string path;  // as written; relative to the bundle when not absolute
    bool readonly = false;
};

struct IdMapping {
    uint32_t container_id = 0;
    uint32_t host_id = 0;
    uint32_t size = 0;
};

struct Mount {
    std::string destination;
    std::string type;
    std::string source;
    std::vector<std::string> options;
    // An idmapped bind (runtime-spec 1.2): the option idmap or ridmap (idmap_recursive), or
    // mappings of its own, which make it idmap as in runc. "containerID hostID size" is what the
    // mount's user namespace maps, so a file owned by containerID on disk is seen owned by hostID.
    // With no mappings of its own, the container's user namespace gives them.
    bool idmap = false;
    bool idmap_recursive = false;
    std::vector<IdMapping> uid_mappings{}, gid_mappings{};  // {}: aggregates may leave them out

    // Type "bind" or option bind/rbind.
    bool is_bind() const;
};

struct Hook {
    std::string path;
    std::vector<std::string> args;
    std::optional<std::vector<std::string>> env;  // absent: what runc gives (runtime/hooks.cpp)
    std::optional<int> timeout;                   // seconds
};

struct Hooks {
    std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart, poststop;
};

// The eight namespace types, by their config.json names.
enum class NamespaceType { pid, network, mount, ipc, uts, user, cgroup, time };

struct Namespace {
    NamespaceType type;
    std::string path;  // empty: create a new one; else join the one at this path
};

struct Device {
    std::string type;  // c, b, u, p
    std::string path;
    int64_t major = 0;
    int64_t minor = 0;
    std::optional<uint32_t> file_mode;
    std::optional<uint32_t> uid;
    std::optional<uint32_t> gid;
};

struct DeviceRule {
    bool allow = false;
    std::string type = "a";        // a, c, b
    std::optional<int64_t> major;  // absent: any (*)
    std::optional<int64_t> minor;
    std::string access = "rwm";
};

struct MemoryResources {
    std::optional<int64_t> limit, reservation, swap, kernel, kernel_tcp;
    std::optional<uint64_t> swappiness;
    std::optional<bool> disable_oom_killer, use_hierarchy;
    std::optional<bool> check_before_update;  // update only: refuse a limit below current usage
};

struct CpuResources {
    std::optional<uint64_t> shares;
    std::optional<int64_t> quota;
    std::optional<uint64_t> burst;
    std::optional<uint64_t> period;
    std::optional<int64_t> realtime_runtime;
    std::optional<uint64_t> realtime_period;
    std::string cpus, mems;
    std::optional<int64_t> idle;
};

struct WeightDevice {
    int64_t major = 0, minor = 0;
    std::optional<uint16_t> weight, leaf_weight;
};

struct ThrottleDevice {
    int64_t major = 0, minor = 0;
    uint64_t rate = 0;
};

struct BlockIoResources {
    std::optional<uint16_t> weight, leaf_weight;
    std::vector<WeightDevice> weight_device;
    std::vector<ThrottleDevice> throttle_read_bps, throttle_write_bps, throttle_read_iops,
        throttle_write_iops;
};

struct HugepageLimit {
    std::string page_size;  // "2MB"
    uint64_t limit = 0;
};

struct NetworkResources {
    std::optional<uint32_t> class_id;
    std::vector<std::pair<std::string, uint32_t>> priorities;  // interface name, priority
};

struct RdmaLimit {
    std::optional<uint32_t> hca_handles, hca_objects;
};

struct Resources {
    std::vector<DeviceRule> devices;
    std::optional<MemoryResources> memory;
    std::optional<CpuResources> cpu;
    std::optional<int64_t> pids_limit;
    std::optional<BlockIoResources> block_io;
    std::vector<HugepageLimit> hugepage_limits;
    std::optional<NetworkResources> network;
    std::map<std::string, RdmaLimit> rdma;       // device name ("mlx5_1") -> limits
    std::map<std::string, std::string> unified;  // cgroup v2 file name ("memory.high") -> value
};

struct SeccompArg {
    unsigned index = 0;
    uint64_t value = 0;
    uint64_t value_two = 0;
    std::string op;  // SCMP_CMP_EQ, ...
};

struct SeccompSyscall {
    std::vector<std::string> names;
    std::string action;  // SCMP_ACT_*
    std::optional<uint32_t> errno_ret;
    std::vector<SeccompArg> args;
};

struct Seccomp {
    std::string default_action;
    std::optional<uint32_t> default_errno_ret;
    std::vector<std::string> architectures;  // SCMP_ARCH_*
    std::vector<std::string> flags;          // SECCOMP_FILTER_FLAG_*
    std::vector<SeccompSyscall> syscalls;
    std::string listener_path;      // with SCMP_ACT_NOTIFY: the unix socket the listener fd goes to
    std::string listener_metadata;  // passed to the listener as it is
};

// linux.personality: the execution domain, as personality(2) takes it.
struct Personality {
    unsigned long domain = 0;  // PER_LINUX or PER_LINUX32
};

// linux.memoryPolicy, as set_mempolicy(2) takes it.
struct MemoryPolicy {
    int mode = 0;                 // MPOL_* with its MPOL_F_* flags or'ed in
    std::vector<uint64_t> nodes;  // the node mask, 64 nodes a word; empty for none
};

// linux.netDevices: an interface of the runtime's network namespace, moved into the container's.
struct NetDevice {
    std::string name;  // its name in the container; empty: it keeps the one it has
};

struct Linux {
    std::vector<Namespace> namespaces;
    std::vector<IdMapping> uid_mappings, gid_mappings;
    std::vector<Device> devices;
    std::string cgroups_path;
    std::optional<Resources> resources;
    std::string rootfs_propagation;
    std::vector<std::string> masked_paths, readonly_paths;
    std::map<std::string, std::string> sysctl;
    std::optional<Seccomp> seccomp;
    std::string mount_label;  // applied to new filesystems where SELinux is enabled, else ignored
    std::optional<Personality> personality;
    std::optional<MemoryPolicy> memory_policy;
    // By the interface's name in the runtime's network namespace. Names are valid interface names
    // and no two end up with the same name in the container.
    std::map<std::string, NetDevice> net_devices;
};

struct Spec {
    std::string oci_version;
    Process process;  // required by hutch for create: a container without a process cannot start
    Root root;
    std::string hostname;
    std::string domainname;
    std::vector<Mount> mounts;
    Hooks hooks;
    std::map<std::string, std::string> annotations;
    std::optional<Linux> linux_;  // "linux" is a predefined macro in GNU C++
};

// Parses config.json text into a Spec, validating every field it reads.
// Errors name the field: "linux.resources.memory.limit: expected integer".
ErrorOr<Spec> parse_spec(const std::string& json_text);
// config.json as read, and what it says. The text is kept with the container's state, so that
// `exec` works from the config the container was created with, not the bundle's current one.
struct LoadedConfig {
    Spec spec;
    std::string text;
};
// Reads and parses BUNDLE/config.json; errors are prefixed with "config.json".
ErrorOr<LoadedConfig> load_spec(const std::string& bundle_dir);
// A LinuxResources object on its own (`update --resources`), parsed and checked as
// linux.resources is; errors are prefixed "--resources": "--resources: memory.limit: expected integer".
ErrorOr<Resources> parse_resources_json(const std::string& json_text);

// A Process object on its own (`exec --process`), parsed and checked as config.json's "process" is.
ErrorOr<Process> parse_process_json(const std::string& json_text);
// The same for a "process" object already in memory (exec builds one from its flags), whose
// strings may hold bytes that are not UTF-8: a command line may, JSON text may not.
ErrorOr<Process> parse_process_object(const nlohmann::json& value);

// The config.json that `spec` writes: runc's default (busybox sh, the usual mounts, masked paths).
nlohmann::ordered_json default_spec(bool rootless);
std::string default_spec_json(bool rootless);

// Helpers shared by the runtime.
const char* namespace_name(NamespaceType type);
// The type for a config.json namespace name ("network"), or nullopt for an unknown name.
std::optional<NamespaceType> namespace_type_from_name(std::string_view name);
bool has_namespace(const Spec& spec, NamespaceType type);
// The name linux.netDevices[host_name] has in the container: its "name", or host_name.
std::string container_net_device_name(const std::string& host_name, const NetDevice& device);
const Namespace* find_namespace(const Spec& spec, NamespaceType type);
// The file under /proc/sys that a linux.sysctl key names: "net.ipv4.ip_forward" ->
// "net/ipv4/ip_forward". A key written with slashes is a path already and keeps its dots, as
// sysctl(8) reads it: "net/ipv4/conf/eth0.100/forwarding" names a VLAN interface.
std::string sysctl_path(const std::string& key);
// Whether process.capabilities may hold this name: libcap's, spelled as the spec does
// ("CAP_CHOWN", not "cap_chown" or "0", which libcap would also take).
bool is_capability_name(const std::string& name);

// What config.json may name, as the parsers accept it, for `features`: the six kinds of hooks,
// the eight namespace types, the seccomp filter flags.
std::vector<std::string> hook_names();
std::vector<std::string> namespace_names();
std::vector<std::string> known_seccomp_flags();

}  // namespace hutch::spec
