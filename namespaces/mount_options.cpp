// Mount options of config.json -> MS_* flags, propagation, recursive attributes and the data
// string; and validate(), which runs these parsers in the parent so that options that do not fit
// their mount fail before clone, with an error that names the field. Everything else in
// config.json was checked by its parser (spec/), which these only translate.
#include <sys/mount.h>

#include <algorithm>
#include <array>
#include <string_view>

#include "namespaces/rootfs.h"

namespace hutch::rootfs {

namespace {

struct FlagOption {
    std::string_view name;
    bool clear;  // the option turns the flag off ("rw" clears MS_RDONLY)
    unsigned long flag;
};

constexpr std::array kFlagOptions{
    FlagOption{"defaults", false, 0},
    FlagOption{"ro", false, MS_RDONLY},
    FlagOption{"rw", true, MS_RDONLY},
    FlagOption{"nosuid", false, MS_NOSUID},
    FlagOption{"suid", true, MS_NOSUID},
    FlagOption{"nodev", false, MS_NODEV},
    FlagOption{"dev", true, MS_NODEV},
    FlagOption{"noexec", false, MS_NOEXEC},
    FlagOption{"exec", true, MS_NOEXEC},
    FlagOption{"sync", false, MS_SYNCHRONOUS},
    FlagOption{"async", true, MS_SYNCHRONOUS},
    FlagOption{"dirsync", false, MS_DIRSYNC},
    FlagOption{"remount", false, MS_REMOUNT},
    FlagOption{"mand", false, MS_MANDLOCK},
    FlagOption{"nomand", true, MS_MANDLOCK},
    FlagOption{"noatime", false, MS_NOATIME},
    FlagOption{"atime", true, MS_NOATIME},
    FlagOption{"nodiratime", false, MS_NODIRATIME},
    FlagOption{"diratime", true, MS_NODIRATIME},
    FlagOption{"relatime", false, MS_RELATIME},
    FlagOption{"norelatime", true, MS_RELATIME},
    FlagOption{"strictatime", false, MS_STRICTATIME},
    FlagOption{"nostrictatime", true, MS_STRICTATIME},
    FlagOption{"lazytime", false, MS_LAZYTIME},
    FlagOption{"nolazytime", true, MS_LAZYTIME},
    FlagOption{"nosymfollow", false, MS_NOSYMFOLLOW},
    FlagOption{"symfollow", true, MS_NOSYMFOLLOW},
    FlagOption{"bind", false, MS_BIND},
    FlagOption{"rbind", false, MS_BIND | MS_REC},
};

struct PropagationOption {
    std::string_view name;
    unsigned long flags;
};

constexpr std::array kPropagationOptions{
    PropagationOption{"private", MS_PRIVATE},       PropagationOption{"rprivate", MS_PRIVATE | MS_REC},
    PropagationOption{"shared", MS_SHARED},         PropagationOption{"rshared", MS_SHARED | MS_REC},
    PropagationOption{"slave", MS_SLAVE},           PropagationOption{"rslave", MS_SLAVE | MS_REC},
    PropagationOption{"unbindable", MS_UNBINDABLE}, PropagationOption{"runbindable", MS_UNBINDABLE | MS_REC},
};

// Recursive variants (runc's "rro", "rnosuid", ...): mount_setattr(AT_RECURSIVE) reaches the
// submounts of a recursive bind, which a plain remount cannot.
struct AttrOption {
    std::string_view name;
    bool clear;
    uint64_t attr;
};

constexpr std::array kAttrOptions{
    AttrOption{"rro", false, MOUNT_ATTR_RDONLY},
    AttrOption{"rrw", true, MOUNT_ATTR_RDONLY},
    AttrOption{"rnosuid", false, MOUNT_ATTR_NOSUID},
    AttrOption{"rsuid", true, MOUNT_ATTR_NOSUID},
    AttrOption{"rnodev", false, MOUNT_ATTR_NODEV},
    AttrOption{"rdev", true, MOUNT_ATTR_NODEV},
    AttrOption{"rnoexec", false, MOUNT_ATTR_NOEXEC},
    AttrOption{"rexec", true, MOUNT_ATTR_NOEXEC},
    AttrOption{"rnodiratime", false, MOUNT_ATTR_NODIRATIME},
    AttrOption{"rdiratime", true, MOUNT_ATTR_NODIRATIME},
    AttrOption{"rnosymfollow", false, MOUNT_ATTR_NOSYMFOLLOW},
    AttrOption{"rsymfollow", true, MOUNT_ATTR_NOSYMFOLLOW},
};

// The access-time mode is one field, not independent bits: setting it clears the whole field.
struct AtimeOption {
    std::string_view name;
    uint64_t mode;
};

constexpr std::array kAtimeOptions{
    AtimeOption{"rnoatime", MOUNT_ATTR_NOATIME},         AtimeOption{"ratime", MOUNT_ATTR_RELATIME},
    AtimeOption{"rstrictatime", MOUNT_ATTR_STRICTATIME}, AtimeOption{"rnostrictatime", MOUNT_ATTR_RELATIME},
    AtimeOption{"rrelatime", MOUNT_ATTR_RELATIME},       AtimeOption{"rnorelatime", MOUNT_ATTR_RELATIME},
};

template <typename Table>
auto find_option(const Table& table, std::string_view name) -> const typename Table::value_type* {
    for (const auto& entry : table)
        if (entry.name == name) return &entry;
    return nullptr;
}

void apply_flag(MountOptions& out, const FlagOption& opt) {
    if (opt.clear) {
        out.flags &= ~opt.flag;
        out.cleared |= opt.flag;
    } else {
        out.flags |= opt.flag;
        out.cleared &= ~opt.flag;
    }
}

void apply_attr(MountOptions& out, const AttrOption& opt) {
    if (opt.clear) {
        out.attr_set &= ~opt.attr;
        out.attr_clr |= opt.attr;
    } else {
        out.attr_set |= opt.attr;
        out.attr_clr &= ~opt.attr;
    }
}

void append_data(std::string& data, std::string_view option) {
    if (!data.empty()) data += ',';
    data += option;
}

// What a mount needs beyond what the config.json parser checks (spec/ makes the destination
// absolute and checks the idmap fields): the options, as this file reads them, fitting the mount's type.
ErrorOr<void> validate_mount(const spec::Mount& mount) {
    if (clean_path(mount.destination) == "/")
        return fail("destination \"/\": mounting over the container's root is not supported");
    auto options = TRY(parse_mount_options(mount.options));
    bool bind = is_bind_mount(mount);
    if (mount.type.empty() && !bind) return fail("type is required unless the mount is a bind mount");
    if (bind && mount.source.empty()) return fail("source is required for a bind mount");
    if (options.tmpcopyup && mount.type != "tmpfs")
        return fail("option tmpcopyup needs type tmpfs, not \"" + mount.type + "\"");
    // A bind is made and then given its flags; a new filesystem has nothing to remount.
    if ((options.flags & MS_REMOUNT) && !bind) return fail("option remount applies to bind mounts only");
    if ((options.attr_set | options.attr_clr) != 0 && !bind)
        return fail("recursive options (rro, rnosuid, ...) apply to bind mounts only");
    return {};
}

}  // namespace

bool MountOptions::bind() const { return (flags & MS_BIND) != 0; }
bool MountOptions::recursive() const { return (flags & MS_REC) != 0; }

ErrorOr<MountOptions> parse_mount_options(const std::vector<std::string>& options) {
    MountOptions out;
    for (const auto& option : options) {
        if (const auto* flag = find_option(kFlagOptions, option)) {
            apply_flag(out, *flag);
        } else if (const auto* prop = find_option(kPropagationOptions, option)) {
            out.propagation.push_back(prop->flags);
        } else if (const auto* attr = find_option(kAttrOptions, option)) {
            apply_attr(out, *attr);
        } else if (const auto* atime = find_option(kAtimeOptions, option)) {
            out.attr_set = (out.attr_set & ~uint64_t{MOUNT_ATTR__ATIME}) | atime->mode;
            out.attr_clr |= MOUNT_ATTR__ATIME;
        } else if (option == "tmpcopyup") {
            out.tmpcopyup = true;
        } else if (option == "idmap" || option == "ridmap") {
            continue;  // read by the config.json parser into the mount's idmap fields
        } else if (option.empty()) {
            return fail("empty mount option");
        } else {
            // Filesystem-specific (mode=755, size=65536k, newinstance, ...): the kernel judges them.
            append_data(out.data, option);
        }
    }
    return out;
}

ErrorOr<std::optional<unsigned long>> parse_rootfs_propagation(const std::string& value) {
    if (value.empty()) return std::optional<unsigned long>{};
    if (const auto* prop = find_option(kPropagationOptions, value))
        return std::optional<unsigned long>{prop->flags};
    return fail("\"" + value + "\" has no propagation flags here (not a config.json the parser read?)");
}

bool is_bind_mount(const spec::Mount& mount) { return mount.is_bind(); }

std::string mount_context_for(std::string_view type, std::string_view data, const std::string& mount_label) {
    static constexpr std::array<std::string_view, 5> kSelfLabelled{"proc", "sysfs", "mqueue", "cgroup",
                                                                   "cgroup2"};
    if (mount_label.empty() || std::ranges::find(kSelfLabelled, type) != kSelfLabelled.end()) return "";
    bool named = data.starts_with("context=") || data.find(",context=") != std::string_view::npos;
    return named ? "" : mount_label;
}

std::string with_context_option(const std::string& data, const std::string& context) {
    if (context.empty()) return data;
    return data + (data.empty() ? "" : ",") + "context=\"" + context + "\"";
}

ErrorOr<void> validate(const spec::Spec& spec) {
    for (size_t i = 0; i < spec.mounts.size(); ++i)
        TRY_CTX(validate_mount(spec.mounts[i]), "mounts[" + std::to_string(i) + "]");
    return {};
}

}  // namespace hutch::rootfs
