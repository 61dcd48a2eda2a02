// The device cgroup (v1) policy: what is written to devices.allow and devices.deny, in order.
// Internal to cgroups/.
#pragma once

#include <string>
#include <vector>

#include "spec/spec.h"

namespace hutch::cgroups {

// "c 1:3 rwm"; an absent major or minor is "*".
std::string format_device_rule(const spec::DeviceRule& rule);

// The devices every container gets, as runc gives them: null, zero, full, random, urandom, tty,
// ptmx and the pty slaves (136:*), read, write and mknod.
const std::vector<spec::DeviceRule>& default_allowed_devices();

struct DeviceWrite {
    std::string file;  // "devices.allow" or "devices.deny"
    std::string line;  // "c 1:3 rwm"
    spec::DeviceRule rule;
};

// The writes that give a new cgroup the policy in rules: deny everything, then each rule in
// order, then the default devices. A default device that a rule denies explicitly (same type,
// major and minor) keeps only the access the rule did not deny, so a config can take /dev/null
// away; a blanket deny ("a") does not remove the defaults, as in runc, because podman and other
// clients start their list with one and rely on the runtime for the basics.
std::vector<DeviceWrite> device_writes(const std::vector<spec::DeviceRule>& rules);

// What a v1 device cgroup allows after a sequence of writes, worked out as the kernel does: a
// type "a" rule with no numbers sets the default and clears the exceptions; otherwise an allow
// adds an exception to a default deny (a deny takes access away from the exception with the same
// type and numbers), and a deny adds one to a default allow. cgroup v2 has no such files: its
// device program (device_program.h) is compiled from this end state, so both layouts give a
// container the same devices.
struct DevicePolicy {
    bool default_allow = true;
    std::vector<spec::DeviceRule> exceptions;  // access merged per type and numbers
};
DevicePolicy device_policy(const std::vector<DeviceWrite>& writes);

}  // namespace hutch::cgroups
