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

source "$repo/bench/lib.sh"
prepare_bundle /bin/true

echo "== smoke runs"
add_runtimes
# `run` deletes the container when its process exits, so the same id is reused run after run.
for name in "${!bin_of[@]}"; do
    cmd_of[$name]="${bin_of[$name]} --root ${root_of[$name]} run --bundle $bundle ${id_of[$name]}"
done

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
