#!/usr/bin/env bash
# exec benchmark: `hutch-oci exec ID /bin/true` against `runc exec` and `crun exec`, each into a
# running container of its own runtime (the busybox bundle of bench/run.sh, its process `sleep`),
# and the floor: nsenter into the same namespaces as hutch's container and exec /bin/true. Back to
# back and cold (a 50 ms pause before each run), in rotated rounds as bench/run.sh measures.
#
# Usage: bench/exec.sh   (as root, after `make build`; `make bench` runs it after bench/run.sh)
# Environment: HUTCH_OCI (default build/hutch-oci), RUNS (100), WARMUP (5, per round), COLD_RUNS (40),
#              ROUNDS (5), BENCH_OUT (where results-exec*.md go; default bench/).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
hutch=${HUTCH_OCI:-$repo/build/hutch-oci}
runs=${RUNS:-100}
warmup=${WARMUP:-5}
rounds=${ROUNDS:-5}
cold_runs=${COLD_RUNS:-40}
out_dir=${BENCH_OUT:-$repo/bench}

source "$repo/bench/lib.sh"
prepare_bundle sleep 1000000

echo "== containers: one per runtime, started with run --detach, and a smoke exec into each"
add_runtimes
entries=()   # "label<TAB>command"
for name in hutch runc crun; do
    [[ -n ${bin_of[$name]:-} ]] || continue
    label=$name
    if [[ $name == hutch ]]; then label="hutch-oci"; fi
    base="${bin_of[$name]} --root ${root_of[$name]}"
    # The container's stdio is the runtime's: a file, not a pipe that $(...) would wait on forever.
    if ! timeout 30 "${inside[@]}" $base run --detach --bundle "$bundle" "${id_of[$name]}" \
        </dev/null >"$tmp/$name.log" 2>&1; then
        echo "   skipping $label: its container did not start: $(tail -3 "$tmp/$name.log")"
        unset "bin_of[$name]"
        continue
    fi
    cmd="$base exec ${id_of[$name]} /bin/true"
    if ! err=$(timeout 30 "${inside[@]}" $cmd 2>&1 </dev/null); then
        echo "   skipping $label: its smoke exec failed: $err"
        continue
    fi
    echo "   $label exec: ok"
    entries+=("$label exec"$'\t'"$cmd")
done
[[ ${#entries[@]} -gt 0 ]] || { echo "bench/exec.sh: no runtime passed its smoke exec" >&2; exit 1; }
if [[ -n ${bin_of[hutch]:-} ]]; then
    pid=$(in_namespace "$hutch" --root "${root_of[hutch]}" state "${id_of[hutch]}" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["pid"])')
    floor="nsenter --target $pid --mount --uts --ipc --net --pid /bin/true"
    in_namespace $floor || { echo "the floor itself fails: $floor" >&2; exit 1; }
    entries+=("floor: nsenter + exec"$'\t'"$floor")
fi

mkdir -p "$out_dir"
echo
echo "== back to back: --warmup $warmup, $runs runs of each entry in $rounds rounds"
measure exec-back-to-back "$runs" "$warmup"
echo
echo "== cold: --prepare 'sleep 0.05', $cold_runs runs of each entry in $rounds rounds"
sleep 2
measure exec-cold "$cold_runs" 0 --prepare 'sleep 0.05'
echo "results: $out_dir/results-exec-back-to-back.md, $out_dir/results-exec-cold.md"
