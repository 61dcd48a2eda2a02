#!/usr/bin/env bash
# The start-up benchmark (bench/run.sh) on a pure cgroup v2 host: inside the VM test bed's guest
# (tests/vm), where crun runs as it does on every current distribution and hutch uses its v2
# driver (the container's process born in its cgroup with CLONE_INTO_CGROUP). The guest runs under
# TCG, an emulator: every number is many times this host's, and only the ratios between the
# runtimes, measured side by side in one run, say anything. Results: bench/results-v2-guest.md.
#
# Usage: bench/vm.sh   (as root, after `make build`)
# Environment: RUNS (30), COLD_RUNS (15), ROUNDS (3): passed to bench/run.sh in the guest.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$repo/bench/results-v2-guest.md
log=$(mktemp /tmp/hutch-vm-bench.XXXXXX)
trap 'rm -f "$log"' EXIT

# In the guest: bench/run.sh writes its results to the guest's tmpfs; they come back on the console
# between two markers.
guest_script='set -e
dir=$(mktemp -d)
BENCH_OUT=$dir bench/run.sh
echo "=== results-v2-guest begin"
cat "$dir/results-summary.md"
echo "=== results-v2-guest end"'

cd "$repo"
RUNS=${RUNS:-30} COLD_RUNS=${COLD_RUNS:-15} ROUNDS=${ROUNDS:-3} \
    tests/vm/run-in-guest.sh --timeout 1800 --env RUNS --env COLD_RUNS --env ROUNDS -- sh -c "$guest_script" | tee "$log"
sed -n '/^=== results-v2-guest begin/,/^=== results-v2-guest end/p' "$log" | sed '1d;$d' | tr -d '\r' >"$out.new"
[[ -s $out.new ]] || { rm -f "$out.new"; echo "bench/vm.sh: the guest reported no results" >&2; exit 1; }
{
    echo "<!-- bench/vm.sh: bench/run.sh inside the pure cgroup v2 guest of tests/vm (QEMU TCG) -->"
    cat "$out.new"
} >"$out"
rm -f "$out.new"
echo "results: $out"
