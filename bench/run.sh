#!/usr/bin/env bash
# Start-up benchmark: `hutch-oci run` against `runc run`, `crun run` and the floor (`unshare` of the
# same namespaces + chroot + exec), for a busybox bundle whose process is /bin/true.
# Two ways: back to back (warm caches, no pause), and cold (a 50 ms pause before each run, which
# lets the kernel's RCU grace periods and caches go quiet, as for a container started now and then).
# Also measures the peak RSS of one `run` of each runtime. See bench/README.md for the method.
#
# Usage: bench/run.sh   (as root, after `make build`; `make bench` does both)
# Environment: HUTCH_OCI (default build/hutch-oci), RUNS (100), WARMUP (5, per round), COLD_RUNS (40),
#              ROUNDS (5), RSS_RUNS (5), BENCH_OUT (where results-*.md go; default bench/).
# A runtime whose smoke run fails is skipped, with the reason printed.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
hutch=${HUTCH_OCI:-$repo/build/hutch-oci}
runs=${RUNS:-100}
warmup=${WARMUP:-5}
rounds=${ROUNDS:-5}
cold_runs=${COLD_RUNS:-40}
rss_runs=${RSS_RUNS:-5}
out_dir=${BENCH_OUT:-$repo/bench}

[[ $(id -u) -eq 0 ]] || { echo "bench/run.sh: must run as root" >&2; exit 1; }
for tool in hyperfine python3 unshare nsenter mountpoint /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench/run.sh: $tool is missing: run scripts/setup.sh" >&2; exit 1; }
done

load=$(cut -d' ' -f1 /proc/loadavg)
if python3 -c "import os, sys; sys.exit(0 if float('$load') > os.cpu_count() / 2 else 1)"; then
    echo "bench/run.sh: warning: load average $load on $(nproc) CPUs: other work will skew the numbers" >&2
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

# On a hybrid cgroup host crun 1.8 refuses to run ("cgroups in hybrid mode not supported"); it runs
# in a private mount namespace where the cgroup2 mount is gone. That namespace is made once (kept by
# a bind mount of its nsfs file), and everything measured runs in it: hyperfine, and so every
# runtime and the floor, entered once with nsenter. No runtime pays a wrapper per run, and all of
# them see the same mounts (the host's, less /sys/fs/cgroup/unified).
inside=()   # the prefix that runs a command in that namespace; empty on other hosts
ns_dir=$tmp/ns
make_crun_namespace() {
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
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== bundle: busybox rootfs, process /bin/true, root read-only ($bundle)"
"$repo/examples/busybox/make-rootfs.sh" "$rootfs"
runc spec --bundle "$bundle"   # the reference runtime's default config, the same for every runtime
mkdir -p "$state"
mount -t tmpfs -o mode=0700 hutch-bench-state "$state"   # before crun's namespace copies the mounts
make_crun_namespace
python3 - "$bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as f:
    config = json.load(f)
config["process"]["terminal"] = False
config["process"]["args"] = ["/bin/true"]
config["root"]["readonly"] = True
with open(path, "w") as f:
    json.dump(config, f, indent=2)
PY

# The runtimes: each gets its own state root and container id; `run` deletes the container when
# its process exits, so the same id is reused run after run.
add_runtime() {   # name binary
    local name=$1 bin=$2
    bin_of[$name]=$bin
    root_of[$name]=$state/$name
    id_of[$name]=$id_prefix-$name
    cmd_of[$name]="$bin --root ${root_of[$name]} run --bundle $bundle ${id_of[$name]}"
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

echo "== smoke runs"
if [[ -x $hutch ]]; then add_runtime hutch "$hutch"; else echo "   skipping hutch-oci: $hutch is not built (make build)"; fi
if command -v runc >/dev/null; then add_runtime runc runc; else echo "   skipping runc: not installed"; fi
if command -v crun >/dev/null; then add_runtime crun crun; else echo "   skipping crun: not installed"; fi

# The entries: each runtime's `run`, the floor, and hutch with its state on /tmp. Each entry is
# smoke-tested first.
entries=()   # "label<TAB>command"
declare -A rss_cmd   # name -> the command whose peak RSS is measured (%s: where /usr/bin/time goes)
for name in hutch runc crun; do
    [[ -n ${cmd_of[$name]:-} ]] || continue
    label=$name
    if [[ $name == hutch ]]; then label="hutch-oci"; fi
    if smoke "$label run" "${root_of[$name]}" "${cmd_of[$name]}"; then
        entries+=("$label run"$'\t'"${cmd_of[$name]}")
        rss_cmd[$name]="%s ${cmd_of[$name]}"
    fi
done
[[ ${#entries[@]} -gt 0 ]] || { echo "bench/run.sh: no runtime passed its smoke run" >&2; exit 1; }
disk_fs=$(findmnt -no FSTYPE -T "$tmp")
if [[ -n ${cmd_of[hutch]:-} && $disk_fs != tmpfs ]]; then
    disk_root=$tmp/state-on-disk
    disk_cmd="$hutch --root $disk_root run --bundle $bundle ${id_of[hutch]}-disk"
    if smoke "hutch-oci run (state on /tmp, $disk_fs)" "$disk_root" "$disk_cmd"; then
        entries+=("hutch-oci run (state on /tmp, $disk_fs)"$'\t'"$disk_cmd")
    fi
fi
floor="unshare -m -u -i -n -p -C --fork --root=$rootfs /bin/true"
smoke_floor=$(in_namespace bash -c "$floor" 2>&1) || { echo "the floor itself fails: $floor: $smoke_floor" >&2; exit 1; }
entries+=("floor: unshare + chroot + exec"$'\t'"$floor")
rss_cmd[floor]="%s $floor"

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

mkdir -p "$out_dir"
echo
echo "== back to back: --warmup $warmup, $runs runs of each entry in $rounds rounds"
sleep 2   # let the kernel finish tearing down what the smoke runs left (namespaces, cgroups)
measure back-to-back "$runs" "$warmup"
echo
echo "== cold: --prepare 'sleep 0.05', $cold_runs runs of each entry in $rounds rounds"
sleep 2
measure cold "$cold_runs" 0 --prepare 'sleep 0.05'

echo
echo "== peak RSS of one run (/usr/bin/time -f %M, median of $rss_runs)"
rss_of() {   # command (a shell command line whose runtime is started by /usr/bin/time)
    local values=() i
    for ((i = 0; i < rss_runs; i++)); do
        in_namespace bash -c "$1" >/dev/null 2>&1 </dev/null || { echo "failed"; return; }
        values+=("$(cat "$tmp/rss")")
    done
    printf '%s\n' "${values[@]}" | sort -n | sed -n "$(((rss_runs + 1) / 2))p"
}
declare -A rss
timed="/usr/bin/time -o $tmp/rss -f %M"
for name in hutch runc crun floor; do
    [[ -n ${rss_cmd[$name]:-} ]] || continue
    key=$name
    if [[ $name == hutch ]]; then key="hutch-oci"; fi
    # shellcheck disable=SC2059  # the command is a format: %s is where /usr/bin/time goes
    rss[$key]=$(rss_of "$(printf "${rss_cmd[$name]}" "$timed")")
done

summary=$out_dir/results-summary.md
python3 - "$tmp/back-to-back.json" "$tmp/cold.json" "$summary" "$runs" "$warmup" "$cold_runs" "$rounds" \
    "$(for k in "${!rss[@]}"; do printf '%s=%s;' "$k" "${rss[$k]}"; done)" "${#inside[@]}" \
    "$load" <<'PY'
import json, sys, subprocess, platform, datetime
b2b_path, cold_path, out, runs, warmup, cold_runs, rounds, rss_arg, in_namespace, load = sys.argv[1:]
b2b = {r["command"]: r for r in json.load(open(b2b_path))["results"]}
cold = {r["command"]: r for r in json.load(open(cold_path))["results"]}
rss = dict(kv.split("=", 1) for kv in rss_arg.split(";") if kv)
def ms(r): return f'{r["median"] * 1000:.2f}'
def spread(r): return f'{r["min"] * 1000:.2f}-{r["max"] * 1000:.2f}'
def version(cmd):
    try: return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
    except Exception: return "?"
lines = [
    f"# Start-up benchmark results ({datetime.date.today()}, `make bench`)",
    "",
    f"Host: {platform.node()}, kernel {platform.release()}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} CPUs; "
    f"{version(['runc', '--version'])}; {version(['crun', '--version'])}; {version(['hyperfine', '--version'])}; "
    f"load average {load} before the run.",
    f"Busybox bundle from `runc spec`, process /bin/true, root read-only. Medians in ms "
    f"(min-max in brackets), {rounds} rounds with the order of the entries rotated, runs pooled; "
    f"back to back: {runs} runs of each, --warmup {warmup} per round; cold: --prepare 'sleep 0.05', {cold_runs} runs of each.",
    "",
    "| command | back to back | cold |",
    "|---|---|---|",
]
for name, r in b2b.items():
    c = cold.get(name)
    lines.append(f"| {name} | {ms(r)} ({spread(r)}) | {ms(c) + ' (' + spread(c) + ')' if c else '-'} |")
if in_namespace != "0":
    lines += ["", "Every entry ran in one mount namespace, made once, where /sys/fs/cgroup/unified is "
              "unmounted: crun 1.8 refuses this hybrid cgroup host otherwise. hyperfine itself ran in it "
              "(`nsenter --mount=NS hyperfine ...`), so no runtime pays a wrapper per run."]
lines += ["", "Peak RSS of one run (`/usr/bin/time -f %M`, KiB, median of the runs; the largest process of the tree the runtime waits for):", "",
          "| runtime | peak RSS (KiB) |", "|---|---|"]
for k, v in rss.items():
    lines.append(f"| {k} | {v} |")
text = "\n".join(lines) + "\n"
open(out, "w").write(text)
print(text)
PY
echo "results: $out_dir/results-back-to-back.md, $out_dir/results-cold.md, $summary"

if [[ -n ${cmd_of[hutch]:-} ]]; then
    echo
    echo "== where hutch-oci's time goes (bench/phases.py: its --debug clock, median of 30 runs)"
    "$repo/bench/phases.py" "$hutch" "$bundle" 30 "$state" | tee "$out_dir/results-phases.md"
fi

left=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 6 -type d -name "$id_prefix-*" 2>/dev/null || true)
[[ -z $left ]] || echo "warning: cgroups left behind by a runtime (removed on exit): $left"
