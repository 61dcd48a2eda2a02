#!/usr/bin/env bash
# Sharing benchmark: COUNT containers of one image (a debootstrapped Debian, minbase), each running
# `sh -c 'exec sleep ...'` (a dynamically linked program: /usr/bin/sleep, libc and the loader are
# mapped from the image), started with `hutch run -d`. It shows that they share the image's lower
# layer: one inode per mapped file across all of them, the layer store's own, and a summed PSS well
# below COUNT private copies. The peer: COUNT full copies of the same rootfs (`cp -a`), each running
# the same command chrooted in namespaces of its own (`unshare -m -u -i -n --root=COPY`).
# See bench/README.md ("Twenty containers of one image") for the method.
#
# The rootfs (debootstrap --variant=minbase) and an OCI layout of it are made once and kept in
# BENCH_CACHE (default /var/cache/hutch-bench), keyed by suite, variant and architecture; a lock
# file beside them keeps two benchmarks from making them at once.
#
# Usage: bench/share.sh   (as root, after `make build`)
# Environment: HUTCH (default build/hutch), COUNT (20), COPIES (1: also measure the full copies;
#              0: skip them), BENCH_OUT (where results-share.md goes; default bench/), BENCH_CACHE,
#              SUITE (bookworm), MIRROR (http://deb.debian.org/debian).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
hutch_cmd=${HUTCH:-$repo/build/hutch}
count=${COUNT:-20}
copies=${COPIES:-1}
out_dir=${BENCH_OUT:-$repo/bench}
cache=${BENCH_CACHE:-/var/cache/hutch-bench}
suite=${SUITE:-bookworm}
mirror=${MIRROR:-http://deb.debian.org/debian}
rounds=1   # lib.sh's measure() is not used here

source "$repo/bench/lib.sh"
source "$repo/bench/images.sh"
for tool in debootstrap flock; do
    command -v "$tool" >/dev/null || { echo "$me: $tool is missing: run scripts/setup.sh" >&2; exit 1; }
done
[[ -x $hutch_cmd ]] || { echo "$me: $hutch_cmd is missing: build it (make build)" >&2; exit 1; }

storage=$tmp/storage
run_root=$tmp/run
copies_dir=$tmp/copies
hutch=("$hutch_cmd" --storage-root "$storage" --runroot "$run_root")
names=()        # the containers started, for the cleanup
copy_pids=()    # the processes of the copies
image=share-bench:latest

# Everything this script started goes before lib.sh's cleanup removes $tmp: the containers (rm -f
# kills them and unmounts their rootfs), the copies' processes, and any mount still under $tmp
# (which rm -rf would otherwise walk into).
share_cleanup() {
    local rc=$? pid
    if [[ ${#names[@]} -gt 0 ]]; then
        timeout 60 "${hutch[@]}" rm -f "${names[@]}" >/dev/null 2>&1 || true
    fi
    for pid in "${copy_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    for pid in "${copy_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    unmount_under "$tmp"
    set +e   # so that the status below reaches lib.sh's cleanup instead of ending the shell
    (exit "$rc")
    cleanup
}
trap share_cleanup EXIT

# The Debian rootfs and its OCI layout (one layer, tagged "share"), made under the cache's lock.
key=$cache/debian-$suite-minbase-$(dpkg --print-architecture)
layout=$key/umoci-layout
debian_rootfs "$key"
exec 9>"$key.lock"
flock 9
if [[ ! -f $layout/index.json ]]; then
    echo "== the rootfs as a one-layer OCI layout (once): $layout"
    rm -rf "$layout.tmp"
    make_layout "$key/rootfs" "$layout.tmp" share
    mv "$layout.tmp" "$layout"
fi
flock -u 9
exec 9>&-
rootfs=$key/rootfs

echo "== hutch load -i $layout $image (storage root $storage)"
"${hutch[@]}" load -i "$layout" "$image" >/dev/null

# The container's command: the shell execs sleep, so the container's first process is sleep itself.
command=(sh -c 'exec sleep 1000000')
command_text="sh -c 'exec sleep 1000000'"
echo "== $count containers: hutch run -d $image $command_text"
start_ns=$(date +%s%N)
for ((i = 1; i <= count; i++)); do
    names+=("share-$$-$i")
    "${hutch[@]}" run -d --name "share-$$-$i" "$image" "${command[@]}" >/dev/null
done
start_ms=$((($(date +%s%N) - start_ns) / 1000000))

# The pid of each container's process, once it is sleep (the shell has exec'd).
pids_of_containers() {
    "${hutch[@]}" ps --format json | python3 -c '
import json, sys
names = set(sys.argv[1:])
for r in json.load(sys.stdin):
    if r["name"] in names: print(r["pid"], r["monitorPid"])' "${names[@]}"
}
wait_for_sleep() {   # pids...: until each one's program is sleep
    local pid tries
    for pid in "$@"; do
        for ((tries = 0; tries < 100; tries++)); do
            [[ $(cat "/proc/$pid/comm" 2>/dev/null) == sleep ]] && break
            sleep 0.05
        done
        [[ $(cat "/proc/$pid/comm" 2>/dev/null) == sleep ]] || { echo "$me: process $pid never became sleep" >&2; exit 1; }
    done
}
container_pids=()
monitor_pids=()
while read -r pid monitor; do
    container_pids+=("$pid")
    monitor_pids+=("$monitor")
done < <(pids_of_containers)
[[ ${#container_pids[@]} -eq $count ]] || { echo "$me: ${#container_pids[@]} of $count containers are running" >&2; exit 1; }
wait_for_sleep "${container_pids[@]}"

if [[ $copies == 1 ]]; then
    echo "== the peer: $count copies of the rootfs (cp -a), each: unshare -m -u -i -n --root=COPY $command_text"
    mkdir -p "$copies_dir"
    copy_ns=$(date +%s%N)
    for ((i = 1; i <= count; i++)); do cp -a "$rootfs" "$copies_dir/$i"; done
    copy_ms=$((($(date +%s%N) - copy_ns) / 1000000))
    for ((i = 1; i <= count; i++)); do
        # unshare and the shell exec, so $! is the copy's sleep.
        unshare -m -u -i -n --root="$copies_dir/$i" "${command[@]}" </dev/null >/dev/null 2>&1 &
        copy_pids+=("$!")
    done
    wait_for_sleep "${copy_pids[@]}"
fi

sleep 1   # let the page cache and the processes settle
mkdir -p "$out_dir"
echo "== measuring"
# The lower layer's diff directory (the image has one layer).
diff_dir=$(find "$storage/layers" -mindepth 2 -maxdepth 2 -name diff -type d | head -1)
storage_mb=$(($(du -sxb "$storage" | cut -f1) / 1000000))
notes=("Host: $(uname -n), kernel $(uname -r), $(nproc) CPUs; load average $load before the run."
    "Image: Debian $suite (debootstrap --variant=minbase, $(($(du -sxb "$rootfs" | cut -f1) / 1000000)) MB), one layer,"
    "loaded with \`hutch load\`; each container: \`hutch run -d IMAGE $command_text\` ($count started in"
    "$((start_ms / 1000)).$((start_ms % 1000 / 100)) s, one after another). Disk: the storage root (the layer unpacked"
    "once, its blob, $count containers' upper and work directories) $storage_mb MB.")
if [[ $copies == 1 ]]; then
    notes+=("The peer: $count copies of the rootfs (\`cp -a\`, $(($(du -sxb "$copies_dir" | cut -f1) / 1000000)) MB,"
        "made in $((copy_ms / 1000)).$((copy_ms % 1000 / 100)) s), each running the same command in"
        "\`unshare -m -u -i -n --root=COPY\`.")
fi
note_args=()
for note in "${notes[@]}"; do note_args+=(--note "$note"); done
"$repo/bench/share.py" --out "$out_dir/results-share.md" --layer-diff "$diff_dir" \
    --containers "${container_pids[*]}" --monitors "${monitor_pids[*]}" --copies "${copy_pids[*]}" "${note_args[@]}"

echo "== hutch rm -f of the $count containers"
rm_ns=$(date +%s%N)
"${hutch[@]}" rm -f "${names[@]}" >/dev/null
echo "   removed in $((($(date +%s%N) - rm_ns) / 1000000)) ms"
names=()
left=$(findmnt -rn -o TARGET | grep -F "$storage/" || true)
[[ -z $left ]] || echo "$me: warning: hutch rm -f left mounts behind: $left" >&2
for pid in "${container_pids[@]}" "${monitor_pids[@]}"; do
    # A zombie is gone but for its parent's wait: the monitors' parent is init, which reaps late here.
    state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$pid/status" 2>/dev/null || true)
    [[ -z $state || $state == Z ]] || echo "$me: warning: process $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) outlived hutch rm -f" >&2
done
echo "results: $out_dir/results-share.md"
