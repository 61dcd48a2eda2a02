// A container made from an image and the flags of `hutch run`/`hutch create` (container_setup.h).
// The image's config gives the defaults (Entrypoint, Cmd, Env, WorkingDir, User, StopSignal,
// Labels), the flags override them as they do for docker and podman.
#include "cli/hutch/container_setup.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "base/file.h"
#include "base/timestamp.h"
#include "cli/hutch/container_verbs.h"
#include "cli/hutch/env_words.h"
#include "cli/hutch/verbs.h"
#include "images/container_rootfs.h"
#include "images/content_store.h"
#include "images/image_reference.h"
#include "images/image_store.h"
#include "images/image_user.h"
#include "images/layer_store.h"
#include "images/stored_documents.h"
#include "microvm/host/oci_vm.h"
#include "runtime/runtime.h"
#include "spec/container_config.h"
#include "spec/spec.h"

namespace hutch::cli {

ErrorOr<images::Digest> stored_or_pulled(const Storage& storage, const std::string& image) {
    auto store = TRY(images::ImageStore::open(storage.storage_root));
    if (auto manifest = store.resolve(image)) return *manifest;
    // Not stored: fetched, as podman run does (a digest or a bad name fails here first).
    TRY(images::parse_image_reference(image));
    PullOptions pull_options;
    pull_options.storage_root = storage.storage_root;
    pull_options.print_digest = false;
    TRY_CTX(pull(pull_options, image), image);
    return store.resolve(image);
}

namespace {

struct ResolvedImage {
    std::string name;
    images::Digest manifest;
    images::RunConfig config;
    std::vector<std::string> lowers;
    // Its lease (images/lease.h) keeps the image's blobs and layers from a concurrent prune until
    // the container's record (which a prune reads) exists.
    std::optional<images::ContentStore> content;
};

ErrorOr<ResolvedImage> resolve_image(const Storage& storage, const std::string& image) {
    auto manifest = TRY(stored_or_pulled(storage, image));
    auto content = TRY(images::ContentStore::open(storage.storage_root));
    auto layers = TRY(images::LayerStore::open(content));
    ResolvedImage resolved{.name = image, .manifest = manifest, .config = {}, .lowers = {}, .content = {}};
    resolved.lowers = TRY_CTX(layers.prepare_image(manifest), image);
    auto parsed = TRY(images::load_manifest(content, manifest));
    resolved.config = TRY(images::load_config(content, parsed)).config;
    resolved.content.emplace(std::move(content));
    return resolved;
}

// Entrypoint then Cmd; a command given replaces Cmd, --entrypoint replaces Entrypoint and drops
// the image's Cmd.
ErrorOr<std::vector<std::string>> process_args(const RunFlags& flags, const images::RunConfig& image) {
    std::vector<std::string> args = image.entrypoint;
    std::vector<std::string> cmd = image.cmd;
    if (flags.entrypoint) {
        args.clear();
        if (!flags.entrypoint->empty()) args.push_back(*flags.entrypoint);
        cmd.clear();
    }
    if (!flags.command.empty()) cmd = flags.command;
    args.insert(args.end(), cmd.begin(), cmd.end());
    if (args.empty()) return fail(flags.image + ": no command given and the image names none");
    return args;
}

ErrorOr<std::vector<std::string>> process_env(const RunFlags& flags, const images::RunConfig& image,
                                              const std::string& hostname) {
    std::vector<std::string> env;
    add_env_word(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    // The image's words all have values: none is taken from the caller.
    for (const auto& e : image.env)
        if (e.find('=') != std::string::npos) add_env_word(env, e);
    if (flags.tty) add_env_word(env, "TERM=xterm");
    add_env_word(env, "HOSTNAME=" + hostname);
    for (const auto& file : flags.env_files) {
        std::string text = TRY_CTX(read_file(file), "--env-file");
        size_t start = 0;
        while (start < text.size()) {
            size_t end = text.find('\n', start);
            std::string line = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
            start = end == std::string::npos ? text.size() : end + 1;
            if (!line.empty() && line.front() != '#') add_env_word(env, line);
        }
    }
    for (const auto& e : flags.env) add_env_word(env, e);
    return env;
}

ErrorOr<spec::BindMount> parse_volume(const std::string& text) {
    spec::BindMount bind;
    size_t first = text.find(':');
    if (first == std::string::npos) return fail("-v " + text + ": expected HOST:CONTAINER[:ro|rw]");
    bind.source = text.substr(0, first);
    std::string rest = text.substr(first + 1);
    size_t second = rest.find(':');
    bind.destination = rest.substr(0, second);
    if (second != std::string::npos) {
        std::string mode = rest.substr(second + 1);
        if (mode != "ro" && mode != "rw") return fail("-v " + text + ": the mode must be ro or rw");
        bind.readonly = mode == "ro";
    }
    if (!bind.source.starts_with('/'))
        return fail("-v " + text + ": named volumes are not supported yet; give an absolute host path");
    if (!bind.destination.starts_with('/'))
        return fail("-v " + text + ": the container path must be absolute");
    if (::access(bind.source.c_str(), F_OK) != 0) return fail_errno("-v " + text + ": " + bind.source);
    return bind;
}

ErrorOr<void> apply_limits(const RunFlags& flags, spec::ContainerConfig& c) {
    // 0 is docker's "no limit".
    if (!flags.memory.empty()) {
        int64_t bytes = TRY_CTX(parse_memory_size(flags.memory), "--memory");
        if (bytes > 0) c.memory_limit = bytes;
    }
    if (!flags.cpus.empty()) c.cpu_quota = TRY_CTX(parse_cpus(flags.cpus), "--cpus");
    if (flags.pids_limit) {
        if (*flags.pids_limit == 0 || *flags.pids_limit < -1)
            return fail("--pids-limit: expected -1 or more than 0");
        c.pids_limit = *flags.pids_limit;
    }
    return {};
}

ErrorOr<void> apply_security(const RunFlags& flags, spec::ContainerConfig& c) {
    c.cap_add = flags.cap_add;
    c.cap_drop = flags.cap_drop;
    for (const auto& opt : flags.security_opts) {
        if (opt == "no-new-privileges" || opt == "no-new-privileges:true" || opt == "no-new-privileges=true")
            c.no_new_privileges = true;
        else if (opt != "no-new-privileges:false" && opt != "no-new-privileges=false")
            return fail("--security-opt " + opt + ": not supported yet (only no-new-privileges)");
    }
    if (flags.network == "host")
        c.network = spec::NetworkMode::host;
    else if (flags.network != "none")
        return fail("--network " + flags.network + ": not supported yet (only none and host)");
    return {};
}

// Everything of config.json that needs neither the image's files nor the container's id.
ErrorOr<spec::ContainerConfig> container_config(const RunFlags& flags, const images::RunConfig& image,
                                                const std::string& hostname) {
    spec::ContainerConfig c;
    c.args = TRY(process_args(flags, image));
    c.env = TRY(process_env(flags, image, hostname));
    c.cwd = !flags.workdir.empty() ? flags.workdir : !image.working_dir.empty() ? image.working_dir : "/";
    if (!c.cwd.starts_with('/')) return fail("-w " + c.cwd + ": the working directory must be absolute");
    c.terminal = flags.tty;
    c.hostname = hostname;
    c.readonly_rootfs = flags.read_only;
    for (const auto& v : flags.volumes) c.binds.push_back(TRY(parse_volume(v)));
    for (const auto& t : flags.tmpfs) {
        if (!t.starts_with('/')) return fail("--tmpfs " + t + ": the container path must be absolute");
        c.tmpfs.push_back(t);
    }
    TRY(apply_limits(flags, c));
    TRY(apply_security(flags, c));
    for (const auto& a : flags.annotations) {
        size_t eq = a.find('=');
        if (eq == std::string::npos || eq == 0) return fail("--annotation " + a + ": expected KEY=VALUE");
        c.annotations[a.substr(0, eq)] = a.substr(eq + 1);
    }
    return c;
}

// The user is looked up in the container's own /etc/passwd, so the rootfs is mounted first.
ErrorOr<void> write_bundle(const ContainerStore& store, const ContainerRecord& record, const RunFlags& flags,
                           const images::RunConfig& image, spec::ContainerConfig config) {
    std::string dir = store.dir(record.id);
    TRY(images::mount_container_rootfs(dir, record.lowers, record.remove_on_exit));
    std::string rootfs = dir + "/rootfs";
    UniqueFd rootfs_fd(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!rootfs_fd) return fail_errno("open " + rootfs);
    auto user =
        TRY(images::resolve_image_user(rootfs_fd.get(), flags.user.empty() ? image.user : flags.user));
    config.uid = user.uid;
    config.gid = user.gid;
    config.additional_gids = user.additional_gids;
    if (std::ranges::none_of(config.env, [](const std::string& e) { return e.starts_with("HOME="); }))
        config.env.push_back("HOME=" + user.home);
    TRY(add_microvm_disks(record.lowers, config));
    std::string text = TRY(spec::container_config_json(config));
    return write_file_atomic(dir + "/config.json", text);
}

}  // namespace

ErrorOr<ContainerRecord> set_up_container(const ContainerStore& store, const Storage& storage,
                                          const RunFlags& flags) {
    auto image = TRY(resolve_image(storage, flags.image));
    ContainerRecord record;
    record.name = flags.name;
    record.image = flags.image;
    record.image_digest = image.manifest.str();
    record.created = rfc3339_now(true);
    record.stop_signal = image.config.stop_signal.empty() ? "SIGTERM" : image.config.stop_signal;
    // Refused here, as docker refuses it, rather than found out by the first `stop`.
    TRY_CTX(runtime::parse_signal(record.stop_signal), flags.image + ": the image's StopSignal");
    record.remove_on_exit = flags.remove;
    record.tty = flags.tty;
    record.labels = image.config.labels;
    record.volumes = image.config.volumes;
    record.exposed_ports = image.config.exposed_ports;
    record.lowers = image.lowers;
    record = TRY(store.add(record));
    SetUpGuard guard(store, record.id);
    // The hostname defaults to the short id, which exists only once the record does.
    std::string hostname = flags.hostname.empty() ? record.id.substr(0, 12) : flags.hostname;
    auto config = TRY(container_config(flags, image.config, hostname));
    record = TRY(store.update(record.id, [&](ContainerRecord& r) { r.command = config.args; }));
    TRY(write_bundle(store, record, flags, image.config, std::move(config)));
    guard.release();
    return record;
}

ErrorOr<int64_t> parse_memory_size(std::string_view text) {
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    std::string unit(end, text.data() + text.size());
    for (char& ch : unit) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (unit.size() == 2 && unit.back() == 'b') unit.pop_back();
    static const std::string units = "bkmgt";
    size_t power = unit.empty() ? 0 : units.find(unit);
    if (ec != std::errc() || !std::isfinite(value) || value < 0 || unit.size() > 1 ||
        power == std::string::npos)
        return fail("expected a size such as 512m or 1g, got " + std::string(text));
    double bytes = value * std::pow(1024.0, static_cast<double>(power));
    if (bytes > 9.2e18) return fail("size out of range: " + std::string(text));
    return static_cast<int64_t>(bytes);
}

ErrorOr<int64_t> parse_cpus(std::string_view text) {
    double value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || !(value > 0) || value > 1e6)
        return fail("expected a number of CPUs such as 1.5, got " + std::string(text));
    return std::max<int64_t>(1000, std::llround(value * 100000));
}

}  // namespace hutch::cli

namespace hutch::cli {
namespace {

// A file of the image, from the topmost layer that has it, read inside that layer's root; ""
// when no layer has it or a layer above whites it out.
std::string file_from_layers(const std::vector<std::string>& lowers, const std::string& path) {
    for (const auto& lower : lowers) {
        UniqueFd root(::open(lower.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root) continue;
        struct stat st {};
        if (::fstatat(root.get(), path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
        if (!S_ISREG(st.st_mode)) return "";  // a whiteout, or something else that hides it
        return read_file_at(root.get(), path).value_or("");
    }
    return "";
}

// A hostname for a container without a record: 12 random hex digits, as an id's short form.
std::string random_hostname() {
    unsigned char bytes[6] = {};
    if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) return "hutch-vm";
    static constexpr char hex[] = "0123456789abcdef";
    std::string name;
    for (unsigned char b : bytes) name += {hex[b >> 4], hex[b & 15]};
    return name;
}

// The rlimits of the config.json hutch writes (runc's starter spec: RLIMIT_NOFILE 1024), so that
// a VM's process gets the limits a host container gets.
ErrorOr<std::vector<microvm::GuestRlimit>> default_rlimits() {
    auto process =
        TRY(spec::parse_process_object(nlohmann::json::parse(spec::default_spec(false)["process"].dump())));
    return microvm::host::guest_rlimits(process.rlimits);
}

}  // namespace

ErrorOr<VmContainer> set_up_vm_container(const Storage& storage, const RunFlags& flags) {
    auto image = TRY(resolve_image(storage, flags.image));
    std::string hostname = flags.hostname.empty() ? random_hostname() : flags.hostname;
    auto config = TRY(container_config(flags, image.config, hostname));
    auto user = TRY(images::resolve_image_user_from(flags.user.empty() ? image.config.user : flags.user,
                                                    file_from_layers(image.lowers, "etc/passwd"),
                                                    file_from_layers(image.lowers, "etc/group")));
    VmContainer vm;
    vm.lowers = image.lowers;
    vm.lease = std::move(image.content);
    vm.process.args = config.args;
    vm.process.env = config.env;
    if (std::ranges::none_of(config.env, [](const std::string& e) { return e.starts_with("HOME="); }))
        vm.process.env.push_back("HOME=" + user.home);
    vm.process.cwd = config.cwd;
    vm.process.uid = user.uid;
    vm.process.gid = user.gid;
    vm.process.additional_gids = user.additional_gids;
    vm.process.hostname = hostname;
    // The namespaces a host container of hutch run gets, but its network one.
    vm.process.namespaces = microvm::guest_namespaces;
    vm.process.rlimits = TRY(default_rlimits());
    vm.process.readonly_root = config.readonly_rootfs;
    vm.process.tmpfs = config.tmpfs;
    vm.process.security = TRY(microvm::host::guest_security(TRY(spec::container_capabilities(config)),
                                                            config.no_new_privileges, std::nullopt));
    microvm::host::VmBinds binds;
    for (const auto& bind : config.binds) TRY(binds.add(bind.source, bind.destination, bind.readonly));
    vm.volumes = std::move(binds.volumes);
    vm.process.files = std::move(binds.files);
    // cpu_quota is per 100 ms, the kernel's default period (default_cpu_period), as in config.json.
    vm.process.limits.memory_bytes = config.memory_limit;
    vm.process.limits.cpu_quota = config.cpu_quota;
    vm.process.limits.pids_max = config.pids_limit;
    return vm;
}

}  // namespace hutch::cli
