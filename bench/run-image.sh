#!/usr/bin/env bash
# Containers from an image: `hutch run --rm IMAGE /bin/true` against `podman run --rm IMAGE
# /bin/true` of the same busybox image (loaded into each one's store), podman with runc (its
# default) and with hutch-oci as its runtime; and `hutch-oci run` of a bundle of the same rootfs,
# the runtime's own share. Back to back, in rotated rounds as bench/run.sh measures, and the peak
# RSS of one run of each. See bench/README.md ("hutch run against podman run") for the method.
#
# Usage: bench/run-image.sh   (as root, after `make build`)
# Environment: HUTCH (default build/hutch), HUTCH_OCI (default build/hutch-oci), RUNS (30 of each
#              entry), WARMUP (2, per round), ROUNDS (3), RSS_RUNS (5), BENCH_OUT (where
#              results-run-image.md goes; default bench/).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
hutch=${HUTCH_OCI:-$repo/build/hutch-oci}
hutch_cmd=${HUTCH:-$repo/build/hutch}
runs=${RUNS:-30}
warmup=${WARMUP:-2}
rounds=${ROUNDS:-3}
rss_runs=${RSS_RUNS:-5}
out_dir=${BENCH_OUT:-$repo/bench}
no_crun_namespace=1   # no crun here: every entry runs in the host's mounts, as its users run it

source "$repo/bench/lib.sh"
source "$repo/bench/images.sh"
for tool in podman skopeo runc; do
    command -v "$tool" >/dev/null || { echo "$me: $tool is missing: run scripts/setup.sh" >&2; exit 1; }
done
for binary in "$hutch" "$hutch_cmd"; do
    [[ -x $binary ]] || { echo "$me: $binary is missing: build it (make build)" >&2; exit 1; }
done

image=localhost/busybox-bench:latest
pod=$tmp/podman
# podman keeps everything under $pod (its storage) and the state tmpfs (its run root and the
# runtimes' roots, as /run on a usual host); a wrapper per runtime gives it a root of its own
# (podman's --runtime-flag root=... does not reach its cleanup's delete).
podman_cmd=(podman --root "$pod/root" --runroot "$state/podman" --tmpdir "$state/podman-tmp"
    --network-config-dir "$pod/net" --volumepath "$pod/vol" --storage-driver overlay
    --cgroup-manager cgroupfs --events-backend file)
podman_run="run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
hutch_cli=("$hutch_cmd" --storage-root "$tmp/hutch-storage" --runroot "$state/hutch-cli")

# What a run that was interrupted may leave: podman's containers, image and mounts (and its cgroup
# parent), hutch's containers; then lib.sh's cleanup (hutch-oci's container, the state tmpfs, $tmp).
run_image_cleanup() {
    local rc=$? ids
    if [[ -d $pod ]]; then
        timeout 60 "${podman_cmd[@]}" rm -af >/dev/null 2>&1 || true
        timeout 60 "${podman_cmd[@]}" rmi -af >/dev/null 2>&1 || true
    fi
    if [[ -d $tmp/hutch-storage/containers ]]; then
        mapfile -t ids < <("${hutch_cli[@]}" ps -a --format json 2>/dev/null |
            python3 -c 'import json, sys; print("\n".join(r["id"] for r in json.load(sys.stdin)))' || true)
        if [[ -n ${ids[*]} ]]; then timeout 60 "${hutch_cli[@]}" rm -f "${ids[@]}" >/dev/null 2>&1 || true; fi
    fi
    unmount_under "$tmp/hutch-storage" "$pod" "$state/podman"
    find /sys/fs/cgroup -maxdepth 5 -type d -name libpod_parent 2>/dev/null |
        while read -r dir; do find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null || true; done
    set +e   # so that the status below reaches lib.sh's cleanup instead of ending the shell
    (exit "$rc")
    cleanup
}
trap run_image_cleanup EXIT

prepare_bundle /bin/true   # busybox (examples/busybox/make-rootfs.sh), for hutch-oci; the state tmpfs
echo "== the image: $image, the bundle's rootfs as one layer, loaded into hutch's store and podman's"
make_layout "$rootfs" "$tmp/layout" latest --config.cmd=/bin/sh >/dev/null
"${hutch_cli[@]}" load -i "$tmp/layout" "$image" >/dev/null
mkdir -p "$pod"
skopeo copy --quiet "oci:$tmp/layout:latest" "oci-archive:$pod/busybox.tar:$image"
"${podman_cmd[@]}" load -q -i "$pod/busybox.tar" >/dev/null
for name in runc hutch-oci; do
    binary=runc
    if [[ $name == hutch-oci ]]; then binary=$hutch; fi
    printf '#!/bin/sh\nexec %s --root %s "$@"\n' "$binary" "$state/podman-$name" >"$pod/$name"
    chmod +x "$pod/$name"
done

echo "== smoke runs"
add_runtime hutch "$hutch"
entries=()   # "label<TAB>command"
declare -A rss_cmd_of   # label -> command
add_entry() {   # label state-root command
    if smoke "$1" "$2" "$3"; then
        entries+=("$1"$'\t'"$3")
        rss_cmd_of[$1]=$3
    fi
}
add_entry "hutch run --rm" "$state/hutch-cli" "${hutch_cli[*]} run --rm --network none $image /bin/true"
hutch_containers_left() { find "$tmp/hutch-storage/containers" -mindepth 1 -maxdepth 1 ! -name lock -printf '%f '; }
left=$(hutch_containers_left)
[[ -z $left ]] || { echo "$me: hutch run --rm left a container behind: $left" >&2; exit 1; }
add_entry "podman run --rm (runc)" "$state/podman-runc" "${podman_cmd[*]} --runtime $pod/runc $podman_run $image /bin/true"
add_entry "podman run --rm (hutch-oci)" "$state/podman-hutch-oci" \
    "${podman_cmd[*]} --runtime $pod/hutch-oci $podman_run $image /bin/true"
add_entry "hutch-oci run (bundle)" "${root_of[hutch]}" \
    "$hutch --root ${root_of[hutch]} run --bundle $bundle ${id_of[hutch]}"
left=$("${podman_cmd[@]}" ps -aq)
[[ -z $left ]] || { echo "$me: podman run --rm left containers behind: $left" >&2; exit 1; }
[[ ${#entries[@]} -gt 0 ]] || { echo "$me: no entry passed its smoke run" >&2; exit 1; }

mkdir -p "$out_dir"
echo
echo "== back to back: --warmup $warmup, $runs runs of each entry in $rounds rounds"
sleep 2
measure run-image "$runs" "$warmup" >/dev/null

echo
echo "== peak RSS of one run (/usr/bin/time -f %M, median of $rss_runs)"
rss_lines=()
for entry in "${entries[@]}"; do
    label=${entry%%$'\t'*}
    values=()
    for ((i = 0; i < rss_runs; i++)); do
        # shellcheck disable=SC2086  # the entry's command line, split into words as hyperfine -N does
        /usr/bin/time -o "$tmp/rss" -f %M ${rss_cmd_of[$label]} >/dev/null 2>&1 </dev/null
        values+=("$(cat "$tmp/rss")")
    done
    rss_lines+=("| $label | $(printf '%s\n' "${values[@]}" | sort -n | sed -n "$(((rss_runs + 1) / 2))p") |")
done

table=$(cat "$out_dir/results-run-image.md")
{
    echo "# hutch run against podman run ($(date +%F), \`bench/run-image.sh\`)"
    echo
    echo "Host: $(uname -n), kernel $(uname -r), $(nproc) CPUs; $(podman --version); $(runc --version | head -1);" \
        "$(hyperfine --version); load average $load before the run."
    echo "Image: busybox (examples/busybox/make-rootfs.sh) as one layer, the same OCI layout loaded into both"
    echo "stores; every entry runs /bin/true with no network but lo. Back to back: $runs runs of each entry,"
    echo "--warmup $warmup per round, $rounds rounds with the order rotated, runs pooled; times in ms."
    echo
    echo "$table"
    echo
    echo "Peak RSS of one run (\`/usr/bin/time -f %M\`, KiB, median of $rss_runs: the largest process of"
    echo "the tree the command waits for; podman's conmon leaves that tree, so it is not counted):"
    echo
    echo "| entry | peak RSS (KiB) |"
    echo "|---|---|"
    printf '%s\n' "${rss_lines[@]}"
    echo
    echo "Entries (\$S: the state tmpfs, \$T: the temporary directory):"
    echo
    for entry in "${entries[@]}"; do
        echo "- ${entry%%$'\t'*}: \`$(echo "${entry#*$'\t'}" | sed "s|$state|\$S|g; s|$tmp|\$T|g; s|$repo/||g")\`"
    done
} >"$out_dir/results-run-image.md"
cat "$out_dir/results-run-image.md"

left=$("${podman_cmd[@]}" ps -aq)
[[ -z $left ]] || echo "$me: warning: podman containers left behind (removed on exit): $left" >&2
left=$(hutch_containers_left)
[[ -z $left ]] || echo "$me: warning: hutch containers left behind (removed on exit): $left" >&2
echo "results: $out_dir/results-run-image.md"
