#!/usr/bin/env bash
# Page sharing across microVMs: VMS builtin VMMs at once (hutch-vmm, one process each),
# each with one image of SIZE_MIB random bytes, given either as a read-only virtio-pmem region
# (mapped MAP_SHARED from the host's page cache) or as a read-only virtio-blk disk that the guest
# reads whole into its RAM. Each guest (tests/vm-guests/, test=pmem or test=blk_slurp) reads every
# page of the image, checks the checksum of its first page, says "ok, holding" and halts; then the
# script sums the proportional set size (PSS, /proc/PID/smaps_rollup) of the VMM processes, which
# splits each shared page between the processes that map it. See bench/README.md ("Page sharing
# across microVMs").
#
# Usage: bench/vm-share.sh   (after building hutch-vmm and hutch-vm-guest)
# Environment: HUTCH_VMM (default build/hutch-vmm), VM_GUEST (default
#              build/tests/vm-guest.elf), VMS (10), SIZE_MIB (64), BENCH_OUT (default bench/).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
me=$(basename "$0")
vmm=${HUTCH_VMM:-$repo/build/hutch-vmm}
guest=${VM_GUEST:-$repo/build/tests/vm-guest.elf}
vms=${VMS:-10}
size_mib=${SIZE_MIB:-64}
out_dir=${BENCH_OUT:-$repo/bench}
# Guest RAM: the blk guest copies the image to 16 MiB and up (guest.c, SLURP_BASE).
memory_mib=$((size_mib + 32))
[[ -x $vmm ]] || { echo "$me: $vmm is missing: build it (cmake --build build --target hutch-vmm)" >&2; exit 1; }
[[ -f $guest ]] || { echo "$me: $guest is missing: build it (cmake --build build --target hutch-vm-guest)" >&2; exit 1; }
[[ -w /dev/kvm ]] || { echo "$me: /dev/kvm is not usable here" >&2; exit 1; }

work=$(mktemp -d /tmp/hutch-vm-share-XXXXXX)
pids=()
stop_vms() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    pids=()
}
trap 'stop_vms; rm -rf "$work"' EXIT

image=$work/layer.img
head -c $((size_mib << 20)) /dev/urandom >"$image"
# FNV-1a of the first page: what the guest checks (it reads every page, but sums only this one:
# a software KVM takes microseconds per guest instruction).
sum=$(python3 -c '
import sys
h = 2166136261
for b in open(sys.argv[1], "rb").read(4096): h = ((h ^ b) * 16777619) & 0xffffffff
print(h)' "$image")
cat "$image" >/dev/null   # in the page cache before either run, as a layer image in use would be

# The sum over the VMM processes of a smaps_rollup field, in KiB.
sum_field() {   # field
    local pid total=0 value
    for pid in "${pids[@]}"; do
        value=$(awk -v f="$1:" '$1 == f { print $2 }' "/proc/$pid/smaps_rollup")
        total=$((total + value))
    done
    echo "$total"
}

# Starts the VMs with the device and the guest's `cmdline`, waits until every guest holds, and
# prints one result row.
run_mode() {   # name device-option device-spec cmdline
    local name=$1 option=$2 spec=$3 cmdline=$4 i deadline
    for ((i = 0; i < vms; i++)); do
        "$vmm" "$option" "$spec" --kernel "$guest" --cmdline "$cmdline hold=1" --memory "$memory_mib" >"$work/$name-$i.log" 2>&1 &
        pids+=($!)
    done
    deadline=$((SECONDS + 300))
    for ((i = 0; i < vms; i++)); do
        until grep -q "guest: ok, holding" "$work/$name-$i.log"; do
            if ((SECONDS > deadline)) || ! kill -0 "${pids[i]}" 2>/dev/null; then
                echo "$me: $name VM $i did not get to hold:" >&2
                cat "$work/$name-$i.log" >&2
                exit 1
            fi
            sleep 0.2
        done
    done
    local pss rss file shmem
    pss=$(sum_field Pss) rss=$(sum_field Rss) file=$(sum_field Pss_File) shmem=$(sum_field Pss_Shmem)
    printf '| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f |\n' "$name" "$vms" \
        "$(bc -l <<<"$pss / 1024")" "$(bc -l <<<"$pss / 1024 / $vms")" "$(bc -l <<<"$rss / 1024")" \
        "$(bc -l <<<"$file / 1024")" "$(bc -l <<<"$shmem / 1024")"
    stop_vms
}

{
    echo
    echo "$(date -u +%Y-%m-%d): $vms VMs, a $size_mib MiB image, $memory_mib MiB of guest RAM each"
    echo
    echo "| Image given as | VMs | PSS sum [MiB] | PSS per VM [MiB] | RSS sum [MiB] | PSS of file pages [MiB] | PSS of guest RAM (memfd) [MiB] |"
    echo "|:---|---:|---:|---:|---:|---:|---:|"
    run_mode "virtio-pmem, read-only" --pmem "path=$image" "test=pmem size=$((size_mib << 20)) sum=$sum sum_length=4096"
    run_mode "virtio-blk, read into guest RAM" --disk "path=$image,readonly=on" "test=blk_slurp capacity=$((size_mib << 11)) sum=$sum sum_length=4096"
} | tee -a "$out_dir/results-vm-share.md"
