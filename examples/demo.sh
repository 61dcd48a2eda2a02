#!/usr/bin/env bash
# hutch's demo: runs a busybox container with hutch-oci and shows, from inside and from the host,
# that it has its own hostname, PID 1, mounts and network, and a memory and pids limit in its cgroups.
# Usage: examples/demo.sh            (as root, after `make build`; `make demo` does both)
#        HUTCH_OCI=runc examples/demo.sh   runs the same demo with another OCI runtime
# Leaves nothing behind: the container, its state, its cgroups and the temporary bundle are removed.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
oci=${HUTCH_OCI:-$repo/build/hutch-oci}
if [[ $oci == */* && ! -x $oci ]]; then
    echo "demo.sh: $oci is missing: run 'make build' first" >&2
    exit 1
fi
[[ $(id -u) -eq 0 ]] || { echo "demo.sh: must run as root (containers need namespaces and cgroups)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/hutch-demo.XXXXXX)
state=$tmp/state
bundle=$tmp/bundle
id=demo-$$
run_pid=
cleanup() {
    local rc=$?
    exec 3>&- 2>/dev/null || true
    if [[ -n $run_pid ]] && kill -0 "$run_pid" 2>/dev/null; then
        "$oci" --root "$state" kill "$id" KILL 2>/dev/null || true
        kill "$run_pid" 2>/dev/null || true
        wait "$run_pid" 2>/dev/null || true
    fi
    if [[ -d $state ]]; then
        "$oci" --root "$state" delete --force "$id" >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "building a busybox bundle in $bundle"
mkdir -p "$bundle"
"$repo/examples/busybox/make-rootfs.sh" "$bundle/rootfs"
"$oci" spec --bundle "$bundle"

# What the container prints about itself (written into the rootfs as /demo.sh, so that `ps` shows a
# short command line). It then waits on its stdin, so that the host can look at it while it runs;
# the host lets it go by writing a line.
cat >"$bundle/rootfs/demo.sh" <<'SCRIPT'
echo "hostname:  $(hostname)"
echo "id:        $(id)"
echo "--- ps (this shell is PID 1):"; ps
echo "--- network interfaces:"; ip -o link | cut -d" " -f2
echo "--- mounts:"; mount
if [ -e /sys/fs/cgroup/cgroup.controllers ]; then   # cgroup v2: one hierarchy, this container's
    echo "--- memory.max:           $(cat /sys/fs/cgroup/memory.max)"
    echo "--- pids.max:             $(cat /sys/fs/cgroup/pids.max)"
else                                                 # cgroup v1: one per controller
    echo "--- memory.limit_in_bytes: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes)"
    echo "--- pids.max:             $(cat /sys/fs/cgroup/pids/pids.max)"
fi
echo "--- root is read-only:    $(touch /probe 2>&1 || true)"
echo "--- ready"
read -r _ || true
echo "--- the host let me go: exiting"
SCRIPT

python3 - "$bundle/config.json" <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as f:
    config = json.load(f)
config["process"]["terminal"] = False
config["process"]["args"] = ["sh", "/demo.sh"]
config["hostname"] = "hutch-demo"
resources = config.setdefault("linux", {}).setdefault("resources", {})
resources["memory"] = {"limit": 64 * 1024 * 1024}
resources["pids"] = {"limit": 64}
with open(path, "w") as f:
    json.dump(config, f, indent=2)
PY
echo "config.json: args [sh /demo.sh], terminal false, hostname hutch-demo, memory limit 64 MiB, pids limit 64"

say "running: $oci --root $state run --bundle $bundle $id"
out=$tmp/out
mkfifo "$tmp/stdin"
exec 3<>"$tmp/stdin"   # opened read-write so that neither side blocks on open
"$oci" --root "$state" run --bundle "$bundle" "$id" <&3 >"$out" 2>&1 &
run_pid=$!

# Wait for the container to say it is ready (or to exit early, if it cannot read its stdin).
for _ in $(seq 200); do
    grep -q '^--- ready' "$out" 2>/dev/null && break
    kill -0 "$run_pid" 2>/dev/null || break
    sleep 0.05
done
say "inside the container"
sed '/^--- ready/q' "$out" | grep -v '^--- ready'

say "on the host, while it runs"
echo "host hostname:     $(hostname)"
pid=$("$oci" --root "$state" state "$id" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("pid", ""))' 2>/dev/null || true)
if [[ -n $pid && -d /proc/$pid ]]; then
    echo "container state:   $("$oci" --root "$state" state "$id" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["status"], "pid", s["pid"])')"
    echo "its PID 1 on host: $pid ($(tr '\0' ' ' <"/proc/$pid/cmdline"))"
    for what in uts pid net mnt ipc; do
        printf '%-4s namespace:    host %s, container %s\n' "$what" \
            "$(readlink /proc/self/ns/$what)" "$(readlink "/proc/$pid/ns/$what")"
    done
    if [[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]]; then
        # cgroup v2: the container's one cgroup holds every controller.
        memory_cg=/sys/fs/cgroup$(awk -F: '$1 == "0" {print $3}' "/proc/$pid/cgroup")
        pids_cg=$memory_cg
        memory_file=memory.max
    else
        memory_cg=/sys/fs/cgroup/memory$(awk -F: '$2 == "memory" {print $3}' "/proc/$pid/cgroup")
        pids_cg=/sys/fs/cgroup/pids$(awk -F: '$2 == "pids" {print $3}' "/proc/$pid/cgroup")
        memory_file=memory.limit_in_bytes
    fi
    echo "memory cgroup:     $memory_cg"
    echo "  $memory_file = $(cat "$memory_cg/$memory_file")"
    echo "pids cgroup:       $pids_cg"
    echo "  pids.max = $(cat "$pids_cg/pids.max"), pids.current = $(cat "$pids_cg/pids.current")"
else
    echo "the container is not running (it exited early or state gave no pid): no host-side view"
fi

echo go >&3
rc=0
wait "$run_pid" || rc=$?
run_pid=
exec 3>&-
say "the container's last words"
sed '1,/^--- ready/d' "$out"
echo "exit status: $rc"

say "after it exited"
for cg in $(printf '%s\n' ${memory_cg:-} ${pids_cg:-} | sort -u); do
    if [[ -e $cg ]]; then echo "cgroup $cg is still there"; else echo "cgroup $cg is gone"; fi
done
echo "containers left in $state: $(ls "$state" 2>/dev/null | wc -l)"
exit "$rc"
