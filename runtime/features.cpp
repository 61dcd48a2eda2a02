// `features`: the runtime-spec's features document (features.md, features-linux.md), made from
// the tables the parsers and the runtime use, so that it says what this build really accepts.
#include <sstream>
#include <string_view>

#include "namespaces/rootfs.h"
#include "runtime/runtime.h"
#include "runtime/security.h"
#include "spec/spec.h"

namespace hutch::runtime {
namespace {

using Json = nlohmann::ordered_json;

// The mount options runc knows (its features list). Only those hutch handles itself are listed:
// parse_mount_options() hands unknown ones to the filesystem as data,
// which says nothing about whether they work.
constexpr std::string_view kCandidateMountOptions =
    "acl async atime bind defaults dev diratime dirsync exec idmap iversion lazytime loud mand "
    "noacl noatime nodev nodiratime noexec noiversion nolazytime nomand norelatime nostrictatime "
    "nosuid nosymfollow private ratime rbind rdev rdiratime relatime remount rexec ridmap rnoatime "
    "rnodev rnodiratime rnoexec rnorelatime rnostrictatime rnosuid rnosymfollow ro rprivate "
    "rrelatime rro rrw rshared rslave rstrictatime rsuid rsymfollow runbindable rw shared silent "
    "slave strictatime suid symfollow sync tmpcopyup unbindable";

std::vector<std::string> mount_options() {
    std::vector<std::string> out;
    std::istringstream candidates{std::string(kCandidateMountOptions)};
    for (std::string option; candidates >> option;) {
        auto parsed = rootfs::parse_mount_options({option});
        if (parsed && parsed->data.empty()) out.push_back(option);
    }
    return out;
}

Json seccomp_json(const security::SeccompFeatures& seccomp) {
    return {{"enabled", true},
            {"actions", seccomp.actions},
            {"operators", seccomp.operators},
            {"archs", seccomp.architectures},
            {"knownFlags", spec::known_seccomp_flags()},
            {"supportedFlags", seccomp.supported_flags}};
}

Json disabled() { return {{"enabled", false}}; }

Json linux_json(const security::SeccompFeatures& seccomp) {
    return {
        {"namespaces", spec::namespace_names()},
        {"capabilities", security::known_capability_names()},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", true}, {"systemdUser", false}, {"rdma", true}}},
        {"seccomp", seccomp_json(seccomp)},
        {"apparmor", disabled()},
        {"selinux", disabled()},
        {"intelRdt", disabled()},
        {"netDevices", {{"enabled", true}}},
        {"mountExtensions", {{"idmap", {{"enabled", true}}}}}};
}

}  // namespace

nlohmann::ordered_json features() {
    security::SeccompFeatures seccomp = security::seccomp_features();
    return {{"ociVersionMin", "1.0.0"},
            {"ociVersionMax", spec::kOciVersion},
            {"hooks", spec::hook_names()},
            {"mountOptions", mount_options()},
            {"linux", linux_json(seccomp)},
            {"annotations", {{"io.github.seccomp.libseccomp.version", seccomp.libseccomp_version}}}};
}

}  // namespace hutch::runtime
