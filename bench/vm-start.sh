#!/usr/bin/env bash
# MicroVM start-to-exit benchmark: the builtin VMM (hutch-vmm, microvm/) against
# `qemu-system-x86_64 -M microvm` on KVM, booting the same freestanding test guest
# (tests/vm-guests/, build/tests/vm-guest.elf), which exits at once through the isa-debug-exit
# port. Side by side in one hyperfine run, the order of the entries rotated from round to round;
# then the peak RSS of each (/usr/bin/time). See bench/README.md ("Starting a microVM").
#
# Usage: bench/vm-start.sh   (as root, after `make build`)
# Environment: HUTCH_VMM (default build/hutch-vmm), VM_GUEST (default
#              build/tests/vm-guest.elf), RUNS (60 of each entry), WARMUP (3, per round),
#              ROUNDS (3), RSS_RUNS (10), BENCH_OUT (default bench/).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
vmm=${HUTCH_VMM:-$repo/build/hutch-vmm}
guest=${VM_GUEST:-$repo/build/tests/vm-guest.elf}
runs=${RUNS:-60}
warmup=${WARMUP:-3}
rounds=${ROUNDS:-3}
rss_runs=${RSS_RUNS:-10}
out_dir=${BENCH_OUT:-$repo/bench}
no_crun_namespace=1   # no container runtime here: lib.sh's crun namespace is not needed

source "$repo/bench/lib.sh"
command -v qemu-system-x86_64 >/dev/null || { echo "$me: qemu-system-x86_64 is missing: run scripts/setup.sh" >&2; exit 1; }
[[ -x $vmm ]] || { echo "$me: $vmm is missing: build it (cmake --build build --target hutch-vmm)" >&2; exit 1; }
[[ -f $guest ]] || { echo "$me: $guest is missing: build it (cmake --build build --target hutch-vm-guest)" >&2; exit 1; }
[[ -w /dev/kvm ]] || { echo "$me: /dev/kvm is not usable here" >&2; exit 1; }

# The guest exits with code 0 as soon as it has printed its command line. QEMU reports a guest's
# exit code c as (c << 1) | 1, so its success is status 1: hyperfine runs with -i, and the smoke run
# below checks both statuses first, so that a failing entry is not timed as a fast one.
memory_mib=128
cmdline="test=exit code=0"
hutch_cmd="$vmm --kernel $guest --cmdline '$cmdline' --memory $memory_mib"
qemu_cmd="qemu-system-x86_64 -M microvm -accel kvm -m $memory_mib -nodefaults -no-user-config -nographic -device isa-debug-exit -kernel $guest -append '$cmdline'"
entries=("hutch builtin VMM"$'\t'"$hutch_cmd" "qemu -M microvm"$'\t'"$qemu_cmd")

echo "== smoke run"
status=0; eval "$hutch_cmd" >/dev/null 2>&1 || status=$?
[[ $status == 0 ]] || { echo "$me: the builtin VMM's run ended with status $status, not 0" >&2; exit 1; }
status=0; eval "$qemu_cmd" >/dev/null 2>&1 || status=$?
[[ $status == 1 ]] || { echo "$me: QEMU's run ended with status $status, not 1 (the guest's 0)" >&2; exit 1; }
echo "   both boot the guest to its exit"

echo "== start to exit: $runs runs of each entry"
measure vm-start "$runs" "$warmup" -i

# Peak RSS (the VMM process's, guest RAM it touched included: the guest touches a few pages),
# the median of RSS_RUNS runs each.
echo "== peak RSS: $rss_runs runs of each entry"
rss_median() {   # command
    local i values=()
    for ((i = 0; i < rss_runs; i++)); do
        values+=("$(eval "/usr/bin/time -f %M $1" 2>&1 >/dev/null | tail -1)")
    done
    printf '%s\n' "${values[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
hutch_rss=$(rss_median "$hutch_cmd")
qemu_rss=$(rss_median "$qemu_cmd")
{
    echo
    echo "| Peak RSS (median of $rss_runs) | KiB |"
    echo "|:---|---:|"
    echo "| \`hutch builtin VMM\` | $hutch_rss |"
    echo "| \`qemu -M microvm\` | $qemu_rss |"
} | tee -a "$out_dir/results-vm-start.md"
