# What bench/run.sh (start-up) and bench/exec.sh (exec) share: the checks, the state tmpfs, the
# bundle, crun's mount namespace, the runtimes' roots and ids, the cleanup, the smoke run and the
# rotated rounds of hyperfine. Sourced, with $repo, $hutch, $rounds and $out_dir set. bench/unpack.sh
# (layer unpack) uses the checks, the temporary directory, its cleanup and the rotated rounds.
me=$(basename "$0")
[[ $(id -u) -eq 0 ]] || { echo "$me: must run as root" >&2; exit 1; }
for tool in hyperfine python3 unshare nsenter mountpoint /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "$me: $tool is missing: run scripts/setup.sh" >&2; exit 1; }
done

load=$(cut -d' ' -f1 /proc/loadavg)
if python3 -c "import os, sys; sys.exit(0 if float('$load') > os.cpu_count() / 2 else 1)"; then
    echo "$me: warning: load average $load on $(nproc) CPUs: other work will skew the numbers" >&2
fi

tmp=$(mktemp -d /tmp/hutch-bench.XXXXXX)
# The runtimes keep their state (--root) on a tmpfs, as on a usual host where /run is one. Here
# /run and /tmp are an ext4 without a journal, mounted with discard: removing a container's state
# directory makes the kernel send a synchronous TRIM to the virtual disk (0.1 ms on a quiet
# machine, up to 0.8 ms in a loop), which every runtime would pay and the floor would not. hutch
# is also timed with its state on /tmp, to show that cost.
state=$tmp/state
bundle=$tmp/bundle
rootfs=$bundle/rootfs
id_prefix=hutch-bench-$$
declare -A cmd_of root_of id_of bin_of
scratch_mounts=()   # mounts a script made under $tmp, unmounted before $tmp is removed

# On a hybrid cgroup host crun 1.8 refuses to run ("cgroups in hybrid mode not supported"); it runs
# in a private mount namespace where the cgroup2 mount is gone. That namespace is made once (kept by
# a bind mount of its nsfs file), and everything measured runs in it: hyperfine, and so every
# runtime and the floor, entered once with nsenter. No runtime pays a wrapper per run, and all of
# them see the same mounts (the host's, less /sys/fs/cgroup/unified).
inside=()   # the prefix that runs a command in that namespace; empty on other hosts
ns_dir=$tmp/ns
# A script that runs no crun sets no_crun_namespace=1: its entries then run in the host's mounts.
make_crun_namespace() {
    [[ ${no_crun_namespace:-0} == 0 ]] || return 0
    mountpoint -q /sys/fs/cgroup/unified 2>/dev/null || return 0
    mkdir -p "$ns_dir"
    mount --bind "$ns_dir" "$ns_dir"    # the nsfs bind mount must not sit on a shared mount
    mount --make-private "$ns_dir"
    touch "$ns_dir/mnt"
    unshare --mount="$ns_dir/mnt" --propagation private umount /sys/fs/cgroup/unified
    inside=(nsenter "--mount=$ns_dir/mnt")
}
in_namespace() { "${inside[@]}" "$@"; }

cleanup() {
    local rc=$? name
    for name in "${!id_of[@]}"; do
        timeout 10 "${inside[@]}" "${bin_of[$name]}" --root "${root_of[$name]}" delete --force "${id_of[$name]}" \
            >/dev/null 2>&1 || true
    done
    # A runtime that crashed may have left an (empty) cgroup of ours behind: remove only ours.
    find /sys/fs/cgroup -mindepth 2 -maxdepth 6 -depth -type d -name "$id_prefix-*" -exec rmdir {} + 2>/dev/null || true
    if mountpoint -q "$ns_dir/mnt" 2>/dev/null; then umount "$ns_dir/mnt" || umount -l "$ns_dir/mnt" || true; fi
    if mountpoint -q "$ns_dir" 2>/dev/null; then umount "$ns_dir" || umount -l "$ns_dir" || true; fi
    if mountpoint -q "$state" 2>/dev/null; then umount "$state" || umount -l "$state" || true; fi
    for name in "${scratch_mounts[@]}"; do
        if mountpoint -q "$name" 2>/dev/null; then umount "$name" || umount -l "$name" || true; fi
    done
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

prepare_bundle() {   # ARGS...: the container's process
    echo "== bundle: busybox rootfs, process $*, root read-only ($bundle)"
    "$repo/examples/busybox/make-rootfs.sh" "$rootfs"
    runc spec --bundle "$bundle"   # the reference runtime's default config, the same for every runtime
    mkdir -p "$state"
    mount -t tmpfs -o mode=0700 hutch-bench-state "$state"   # before crun's namespace copies the mounts
    make_crun_namespace
    python3 - "$bundle/config.json" "$@" <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as f:
    config = json.load(f)
config["process"]["terminal"] = False
config["process"]["args"] = sys.argv[2:]
config["root"]["readonly"] = True
with open(path, "w") as f:
    json.dump(config, f, indent=2)
PY
}

# The runtimes: each gets its own state root and container id (cleanup deletes that container).
add_runtime() {   # name binary
    local name=$1 bin=$2
    bin_of[$name]=$bin
    root_of[$name]=$state/$name
    id_of[$name]=$id_prefix-$name
}
# hutch-oci, runc and crun, each where it is installed (built).
add_runtimes() {
    if [[ -x $hutch ]]; then add_runtime hutch "$hutch"; else echo "   skipping hutch-oci: $hutch is not built (make build)"; fi
    if command -v runc >/dev/null; then add_runtime runc runc; else echo "   skipping runc: not installed"; fi
    if command -v crun >/dev/null; then add_runtime crun crun; else echo "   skipping crun: not installed"; fi
}
smoke() {   # label root command: runs it once; true when it exits 0 and leaves no container behind
    local label=$1 root=$2 cmd=$3 err
    if ! err=$(timeout 30 "${inside[@]}" bash -c "$cmd" 2>&1 </dev/null); then
        echo "   skipping $label: its smoke run failed: $cmd"
        echo "$err" | tail -5 | sed 's/^/     | /'
        return 1
    fi
    local left
    left=$(find "$root" -mindepth 1 -maxdepth 1 ! -name '*.lock' -printf '%f ' 2>/dev/null || true)
    if [[ -n $left ]]; then
        echo "   skipping $label: its run left state behind in $root: $left"
        return 1
    fi
    echo "   $label: ok"
}


# Each way is measured in $rounds rounds, the order of the entries rotated from round to round, and
# the runs of all rounds pooled: when the machine slows down for a few seconds (on this VM it does,
# by 10-30 %), every entry shares the slow patch instead of whichever one hyperfine was timing.
measure() {   # name total-runs warmup [hyperfine options...]
    local name=$1 total=$2 warm=$3
    shift 3
    local per=$(((total + rounds - 1) / rounds)) r i count=${#entries[@]}
    for ((r = 0; r < rounds; r++)); do
        local args=()
        for ((i = 0; i < count; i++)); do
            local entry=${entries[$(((i + r) % count))]}
            args+=(--command-name "${entry%%$'\t'*}" "${entry#*$'\t'}")
        done
        echo "   round $((r + 1))/$rounds: $per runs of each entry"
        in_namespace hyperfine -N --style none --time-unit millisecond --warmup "$warm" --runs "$per" "$@" \
            --export-json "$tmp/$name-$r.json" "${args[@]}" >/dev/null
    done
    python3 - "$tmp/$name.json" "$out_dir/results-$name.md" "$tmp/$name"-*.json <<'PY'
import json, statistics, sys
out_json, out_md, rounds = sys.argv[1], sys.argv[2], sys.argv[3:]
times, order = {}, []
for path in sorted(rounds, key=lambda p: int(p.rsplit("-", 1)[1].split(".")[0])):
    for r in json.load(open(path))["results"]:
        if r["command"] not in times:
            order.append(r["command"])
        times.setdefault(r["command"], []).extend(r["times"])
results = [{"command": c, "median": statistics.median(times[c]), "mean": statistics.mean(times[c]),
            "stddev": statistics.stdev(times[c]), "min": min(times[c]), "max": max(times[c]),
            "runs": len(times[c])} for c in order]
json.dump({"results": results}, open(out_json, "w"))
floor = min(r["median"] for r in results)
lines = ["| Command | Median [ms] | Mean [ms] | Min [ms] | Max [ms] | Runs | Relative (median) |",
         "|:---|---:|---:|---:|---:|---:|---:|"]
for r in results:
    lines.append(f'| `{r["command"]}` | {r["median"]*1000:.2f} | {r["mean"]*1000:.2f} ± {r["stddev"]*1000:.2f} | '
                 f'{r["min"]*1000:.2f} | {r["max"]*1000:.2f} | {r["runs"]} | {r["median"]/floor:.2f} |')
open(out_md, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
}


# The Debian rootfs of the image benchmarks (bench/unpack.sh, bench/share.sh): KEY/rootfs, made
# once (scripts/debian-rootfs.sh) for $suite from $mirror.
debian_rootfs() {   # key
    SUITE=$suite MIRROR=$mirror "$repo/scripts/debian-rootfs.sh" "$1"
}

# KEY/layout: an OCI layout (tagged "bench") whose one layer is debian_rootfs's KEY/rootfs, made
# once; for bench/unpack.sh and bench/pull.sh.
debian_layout() {   # key
    local key=$1 layout=$1/layout diff_hex
    # The rootfs as debootstrap leaves it (its .debs in /var/cache/apt/archives included).
    debian_rootfs "$key"
    # One gzip layer of it (a pax tar, names sorted, numeric owners, xattrs kept; gzip -6, as
    # `docker build` and buildah compress) in an OCI layout, with its config and manifest.
    if [[ ! -f $layout/index.json ]]; then
        echo "== the layer and its OCI layout (once): $layout"
        rm -rf "$layout.tmp"
        mkdir -p "$layout.tmp/blobs/sha256"
        tar --format=pax --sort=name --numeric-owner --xattrs --xattrs-include='*' -C "$key/rootfs" \
            -cf "$layout.tmp/layer" .
        read -r diff_hex _ < <(sha256sum "$layout.tmp/layer")
        gzip -6 -n "$layout.tmp/layer"
        mv "$layout.tmp/layer.gz" "$layout.tmp/layer"
        python3 - "$layout.tmp" "$(dpkg --print-architecture)" "sha256:$diff_hex" <<'PY'
import hashlib, json, os, sys
layout, arch, diff_id = sys.argv[1:]
def blob(data: bytes):
    digest = hashlib.sha256(data).hexdigest()
    with open(f"{layout}/blobs/sha256/{digest}", "wb") as f:
        f.write(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}
sha = hashlib.sha256()
with open(f"{layout}/layer", "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        sha.update(chunk)
layer = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": f"sha256:{sha.hexdigest()}",
         "size": os.path.getsize(f"{layout}/layer")}
os.rename(f"{layout}/layer", f"{layout}/blobs/sha256/{sha.hexdigest()}")
config = blob(json.dumps({"architecture": arch, "os": "linux", "config": {"Cmd": ["/bin/bash"]},
                          "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode())
config["mediaType"] = "application/vnd.oci.image.config.v1+json"
manifest = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "config": config, "layers": [layer]}).encode())
manifest["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
manifest["annotations"] = {"org.opencontainers.image.ref.name": "bench"}
json.dump({"schemaVersion": 2, "manifests": [manifest]}, open(f"{layout}/index.json", "w"))
json.dump({"imageLayoutVersion": "1.0.0"}, open(f"{layout}/oci-layout", "w"))
PY
        mv "$layout.tmp" "$layout"
    fi
}
