#!/usr/bin/env bash
# ctest "vm: systemd boots as PID 1": with --systemd, the guest is what users' hosts are: Debian's
# systemd as PID 1 on a pure cgroup v2 hierarchy, with the D-Bus system bus. On the host, this
# script boots the guest (tests/vm/run-in-guest.sh --systemd) and runs itself there with
# --in-guest, as the unit run-in-guest.sh starts once the boot is done. In the guest it checks
# that the system is running (or degraded, whose failed units it lists), that PID 1 is systemd,
# that both the system bus and systemd's private socket answer, and that systemd-run makes a scope
# whose memory.max is the one asked for. On the host, it looks for the line the scope printed.
# Usage: systemd_boot_test.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ ${1:-} != --in-guest ]]; then
    out=$(mktemp)
    trap 'rm -f "$out"' EXIT
    rc=0
    "$here/run-in-guest.sh" --systemd --timeout "${HUTCH_VM_TIMEOUT:-240}" -- "$here/systemd_boot_test.sh" --in-guest |
        tee "$out" || rc=$?
    if [[ $rc -eq 0 ]] && ! grep -qx 'scope-ok' "$out"; then
        echo "FAIL: the guest exited 0 but the scope's scope-ok line never came"
        rc=1
    fi
    [[ $rc -eq 0 ]] || echo "FAIL: in the guest (exit $rc)"
    exit "$rc"
fi

# In the guest, as hutch-vm-command.service.
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

state=$(systemctl is-system-running --wait || true)
check "systemctl is-system-running says running or degraded (it says: $state)" \
    grep -qxE 'running|degraded' <<<"$state"
if [[ $state != running ]]; then
    systemctl --failed --no-pager || true
fi
check "PID 1 is systemd (it is: $(cat /proc/1/comm))" test "$(cat /proc/1/comm)" = systemd
check "/sys/fs/cgroup is cgroup2" test "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs
check "this unit runs in its own cgroup (/system.slice/hutch-vm-command.service)" \
    grep -qx '0::/system.slice/hutch-vm-command.service' /proc/self/cgroup
check "the D-Bus system bus answers and lists org.freedesktop.systemd1" \
    bash -c 'busctl --system --no-pager list | grep -q "^org\.freedesktop\.systemd1 "'
check "systemd's private socket answers (systemctl talks to it as root)" \
    bash -c 'test -S /run/systemd/private && systemctl --no-pager show -p Version --value | grep -q .'
# The scope's memory.max, read by a process in the scope itself.
scope_max=$(systemd-run --quiet --scope -p MemoryMax=64M \
    sh -c 'cat "/sys/fs/cgroup$(sed -n "s/^0:://p" /proc/self/cgroup)/memory.max"' 2>&1) || true
check "systemd-run --scope -p MemoryMax=64M sets the scope's memory.max to 67108864 (got: $scope_max)" \
    test "$scope_max" = 67108864
if systemd-run --quiet --scope -p MemoryMax=64M true; then
    echo scope-ok
fi

echo "in the guest: $passed checks ok, $failed failed"
[[ $failed -eq 0 ]]
