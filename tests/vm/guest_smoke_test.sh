#!/usr/bin/env bash
# ctest "vm: guest is a pure cgroup v2 host": the VM test bed gives what the cgroup v2 tests need.
# On the host, this script boots the guest (tests/vm/run-in-guest.sh) and runs itself there with
# --in-guest. In the guest it checks: /sys/fs/cgroup is cgroup2 and nothing of v1 is mounted; the
# root's cgroup.subtree_control has the memory, cpu, pids, io and cpuset controllers; hutch-oci
# runs; /tmp is the guest's own; the guest can write into the host's tree. Back on the host, it
# checks that the guest's write did not reach the host (the host's root is read-only beneath the
# guest's overlay).
# Usage: guest_smoke_test.sh HUTCH_OCI_BINARY     (run from a writable directory: ctest's, in the build)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ ${1:-} != --in-guest ]]; then
    oci=${1:?usage: guest_smoke_test.sh HUTCH_OCI_BINARY}
    [[ -x $oci ]] || { echo "FAIL: $oci is not an executable (build hutch-oci first)"; exit 1; }
    # A name no one else uses, in a directory the host can write: the guest writes it, the host
    # must not see it.
    marker=$PWD/vm-smoke-write.$$.$RANDOM
    rm -f "$marker"
    rc=0
    "$here/run-in-guest.sh" --timeout "${HUTCH_VM_TIMEOUT:-240}" -- "$here/guest_smoke_test.sh" --in-guest "$oci" "$marker" || rc=$?
    if [[ -e $marker ]]; then
        rm -f "$marker"
        echo "FAIL: the guest's write of $marker reached the host"
        exit 1
    fi
    echo "ok: the guest's write did not reach the host"
    [[ $rc -eq 0 ]] || echo "FAIL: in the guest (exit $rc)"
    exit "$rc"
fi

# In the guest.
oci=$2
marker=$3
passed=0
failed=0
check() { # check DESCRIPTION COMMAND...
    local what=$1
    shift
    if "$@"; then
        echo "ok: $what"
        passed=$((passed + 1))
    else
        echo "FAIL: $what"
        failed=$((failed + 1))
    fi
}

fstype=$(stat -fc %T /sys/fs/cgroup)
check "/sys/fs/cgroup is cgroup2 (got $fstype)" test "$fstype" = cgroup2fs
check "no cgroup v1 hierarchy is mounted" bash -c '! awk '\''$3 == "cgroup"'\'' /proc/self/mounts | grep -q .'
subtree=$(cat /sys/fs/cgroup/cgroup.subtree_control)
for controller in memory cpu pids io cpuset; do
    check "the root's cgroup.subtree_control has $controller (it has: $subtree)" grep -qw "$controller" <<<"$subtree"
done
check "the guest has a block device for the io controller (/dev/vda)" test -b /dev/vda
check "$oci exists in the guest" test -x "$oci"
if version=$("$oci" --version 2>&1); then
    check "hutch-oci --version runs: ${version%%$'\n'*}" grep -q 'hutch-oci version' <<<"$version"
else
    check "hutch-oci --version runs (it failed: $version)" false
fi
check "/tmp is the guest's own tmpfs" test "$(stat -fc %T /tmp)" = tmpfs
check "the guest can write into the host's tree ($marker)" bash -c 'echo guest >"$1" && test "$(cat "$1")" = guest' _ "$marker"
check "PID 1 is the test bed's init" grep -q guest-init.sh /proc/1/cmdline

echo "in the guest: $passed checks ok, $failed failed"
[[ $failed -eq 0 ]]
