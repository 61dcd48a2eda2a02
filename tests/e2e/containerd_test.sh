#!/usr/bin/env bash
# containerd 1.6 drives hutch-oci as the runc of its io.containerd.runc.v2 shim, through a
# container's whole life: `ctr run --rm` prints from inside the container (pid 1, no network but
# loopback); a detached container with a memory limit runs with the limit in its cgroup, is listed
# by `task ps`, takes execs (in its pid namespace, with a terminal, passing the exit status
# through), is paused and resumed, reports its metrics, and is killed and deleted, leaving no
# process, cgroup or hutch-oci state. containerd's config carries the CRI runtime stanza that a
# Kubernetes RuntimeClass with handler `hutch` reaches; the CRI plugin must accept it.
# Everything containerd and hutch-oci keep lives under one temporary directory, removed on exit
# with what containerd leaves outside it: its shims' sockets in /run/containerd/s and the cgroups
# named after the ctr namespace (unique to the run, so that nothing else's is touched).
# Usage: containerd_test.sh HUTCH_OCI_BINARY SOURCE_DIR
set -euo pipefail
oci=${1:?usage: containerd_test.sh HUTCH_OCI_BINARY SOURCE_DIR}
src=${2:?usage: containerd_test.sh HUTCH_OCI_BINARY SOURCE_DIR}
for tool in containerd ctr podman script; do
    command -v "$tool" >/dev/null || { echo "$tool is not installed (scripts/setup.sh installs it)"; exit 1; }
done
case $oci in /*) ;; *) oci=$(pwd)/$oci ;; esac   # the shim runs it from the bundle directory

D=$(mktemp -d /tmp/hutch-e2e-containerd.XXXXXX)
ns=hutchtest-${D##*.}   # the ctr namespace, and so the cgroups' parent: /sys/fs/cgroup/*/$ns
containerd_pid=
# What existed in /run/containerd before the test: only what the test made there is removed.
had_run_dirs=()
for dir in /run/containerd /run/containerd/s /run/containerd/fifo; do [[ -d $dir ]] && had_run_dirs+=("$dir"); done

c() { timeout -k 5 60 ctr -a "$D/containerd.sock" -n "$ns" "$@"; }
# A process that is gone, or a zombie not reaped yet (containerd is this shell's child).
gone() { [[ ! -e /proc/$1 || $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == Z ]]; }

cleanup() {
    set +e
    if [[ -n $containerd_pid ]] && ! gone "$containerd_pid"; then
        for id in $(c task ls -q 2>/dev/null); do c task kill -s SIGKILL "$id" >/dev/null 2>&1; done
        for id in $(c container ls -q 2>/dev/null); do
            c task delete --force "$id" >/dev/null 2>&1
            c container delete "$id" >/dev/null 2>&1
        done
        kill "$containerd_pid"
        for _ in $(seq 100); do gone "$containerd_pid" && break; sleep 0.1; done
        gone "$containerd_pid" || kill -9 "$containerd_pid"
        wait "$containerd_pid" 2>/dev/null
    fi
    # Shims outlive containerd: those of this run are the ones given its address.
    for pid in $(pgrep -f -- "-address $D/containerd.sock"); do kill -9 "$pid"; done
    # The containers' cgroups: thawed (a frozen process does not die), emptied, removed depth-first.
    mapfile -t cgroups < <(find /sys/fs/cgroup -maxdepth 2 -type d -name "$ns" 2>/dev/null)
    if ((${#cgroups[@]})); then
        find "${cgroups[@]}" -name freezer.state -exec sh -c 'echo THAWED >"$1"' _ {} \; 2>/dev/null
        find "${cgroups[@]}" -name cgroup.freeze -exec sh -c 'echo 0 >"$1"' _ {} \; 2>/dev/null
        find "${cgroups[@]}" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | xargs -r kill -9 2>/dev/null
        for _ in $(seq 50); do
            for dir in "${cgroups[@]}"; do find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null; done
            [[ -z $(find "${cgroups[@]}" -maxdepth 0 2>/dev/null) ]] && break
            sleep 0.1
        done
    fi
    grep -F " $D/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
    # The shims' sockets: /run/containerd/s/ + sha256(containerd's address/namespace/container id).
    for id in t1 t2; do
        rm -f "/run/containerd/s/$(printf '%s' "$D/containerd.sock/$ns/$id" | sha256sum | cut -d' ' -f1)"
    done
    for dir in /run/containerd/fifo /run/containerd/s /run/containerd; do
        [[ " ${had_run_dirs[*]} " == *" $dir "* ]] || rmdir "$dir" 2>/dev/null
    done
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
    echo "FAIL: $*"
    # containerd logs what the shim and the runtime said (the runtime's log.json goes with its bundle).
    grep -E 'level=(error|warning)' "$D/containerd.log" 2>/dev/null | grep -v 'failed to load cni' |
        tail -n 8 | sed 's/^/containerd.log: /'
    exit 1
}

# The image: the busybox root filesystem, made an OCI archive by a podman whose storage is in $D
# (its temporary copies too: TMPDIR; and --network-config-dir keeps it off /etc/cni).
"$src/examples/busybox/make-rootfs.sh" "$D/rootfs"
tar -C "$D/rootfs" -cf "$D/busybox.tar" .
mkdir -p "$D/ptmp"
p=(env TMPDIR="$D/ptmp" podman --root "$D/proot" --runroot "$D/prun" --tmpdir "$D/ptmp" --network-config-dir "$D/pnet"
    --storage-driver overlay --events-backend file)
"${p[@]}" import --change 'CMD ["/bin/sh"]' "$D/busybox.tar" localhost/busybox >/dev/null
"${p[@]}" save --format oci-archive -o "$D/busybox-oci.tar" localhost/busybox >/dev/null 2>&1
"${p[@]}" rmi -af >/dev/null 2>&1 || true
grep -F " $D/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l || true
rm -rf "$D/proot" "$D/prun" "$D/ptmp" "$D/pnet" "$D/rootfs" "$D/busybox.tar"

# containerd, all of its state in $D. The snapshotters that would need a host's disk set-up are off;
# the CRI plugin's CNI directories are in $D (no network is ever configured).
mkdir -p "$D/cni/bin" "$D/cni/net.d"
cat >"$D/config.toml" <<CONFIG
version = 2
root = "$D/root"
state = "$D/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "$D/containerd.sock"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$D/opt"
  [plugins."io.containerd.grpc.v1.cri"]
    disable_tcp_service = true
    stream_server_address = "127.0.0.1"
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = "$D/cni/bin"
      conf_dir = "$D/cni/net.d"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      default_runtime_name = "hutch"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hutch]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.hutch.options]
        BinaryName = "$oci"
        Root = "$D/runtime-root"
        SystemdCgroup = false
CONFIG
containerd --config "$D/config.toml" >"$D/containerd.log" 2>&1 &
containerd_pid=$!
for _ in $(seq 100); do
    timeout 5 ctr -a "$D/containerd.sock" version >/dev/null 2>&1 && break
    gone "$containerd_pid" && fail "containerd exited: $(tail -n 3 "$D/containerd.log")"
    sleep 0.2
done
timeout 5 ctr -a "$D/containerd.sock" version >/dev/null 2>&1 || fail "containerd does not answer on its socket"
c plugins ls | grep -Eq '^io\.containerd\.grpc\.v1 +cri .* ok *$' ||
    fail "the CRI plugin refused the config with the hutch runtime: $(c plugins ls | grep -w cri)"
echo "ok: containerd runs, its CRI plugin takes the hutch runtime"

c images import --base-name localhost/busybox "$D/busybox-oci.tar" >/dev/null
image=localhost/busybox:latest
c images ls -q | grep -qx "$image" || fail "the imported image is not $image: $(c images ls -q)"
# The runc shim with hutch-oci as its runc: it calls `hutch-oci --root $D/runtime-root/$ns --log
# BUNDLE/log.json --log-format json VERB`. No --net-host: the container gets its own network
# namespace, with only a loopback.
r=(--fifo-dir "$D/fifo" --runc-binary "$oci" --runc-root "$D/runtime-root")

out=$(c run --rm "${r[@]}" "$image" t1 sh -c 'echo hello from hutch; echo pid=$$; ls /sys/class/net | sed s/^/net=/' 2>&1) ||
    fail "ctr run --rm: $out"
[[ $out == *"hello from hutch"* ]] || fail "run --rm printed: $out"
grep -qx 'pid=1' <<<"$out" || fail "the container's shell is not pid 1: $out"
[[ $(grep '^net=' <<<"$out") == net=lo ]] || fail "the container has more network than a loopback: $out"
echo "ok: ctr run --rm"

out=$(c run -d "${r[@]}" --memory-limit 67108864 "$image" t2 sh -c 'while :; do sleep 1; done' 2>&1) ||
    fail "ctr run -d: $out"
status() { c task ls | awk -v id="$1" '$1 == id {print $3}'; }
[[ $(status t2) == RUNNING ]] || fail "detached task is not running: $(c task ls)"
pid=$(c task ls | awk '$1 == "t2" {print $2}')
[[ $pid =~ ^[0-9]+$ && -e /proc/$pid ]] || fail "no process for task t2: $(c task ls)"
if [[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]]; then   # cgroup v2: one cgroup, every controller
    cg=/sys/fs/cgroup$(grep '^0::' "/proc/$pid/cgroup" | cut -d: -f3)
    memory_file=$cg/memory.max freezer_file=$cg/cgroup.events frozen='frozen 1' thawed='frozen 0'
else
    memory_file=/sys/fs/cgroup/memory$(grep ':memory:' "/proc/$pid/cgroup" | cut -d: -f3)/memory.limit_in_bytes
    freezer_file=/sys/fs/cgroup/freezer$(grep ':freezer:' "/proc/$pid/cgroup" | cut -d: -f3)/freezer.state
    frozen=FROZEN thawed=THAWED
fi
[[ $memory_file == */$ns/t2/* ]] || fail "not in the cgroup containerd asked for (/$ns/t2): $memory_file"
[[ $(cat "$memory_file") == 67108864 ]] || fail "memory limit not in the cgroup ($memory_file)"
[[ $(readlink "/proc/$pid/ns/net") != $(readlink /proc/self/ns/net) ]] || fail "the container is in the host's network"
c task ps t2 | awk 'NR > 1 {print $1}' | grep -qx "$pid" || fail "task ps does not list $pid: $(c task ps t2)"
echo "ok: ctr run -d with --memory-limit, task ps"

# Each exec'd process outlives its start by a second: containerd 1.6's shim (Debian 12 has 1.6.20)
# drops the exit of an exec that ends before it has read the pid file, and the client then waits
# forever (containerd issues 9719 and 8557, fixed in later shims). It is the shim's race, whichever
# runtime it drives.
out=$(c task exec --fifo-dir "$D/fifo" --exec-id e1 t2 sh -c 'cat /proc/1/cmdline; sleep 1' 2>&1 | tr '\0' ' ') ||
    fail "task exec: $out"
[[ $out == "sh -c while :; do sleep 1; done"* ]] || fail "the exec does not see the container's pid 1: $out"
out=$(c task exec --fifo-dir "$D/fifo" --exec-id e1b t2 sh -c 'readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; sleep 1' 2>&1) ||
    fail "task exec: $out"
[[ $out == "$(readlink "/proc/$pid/ns/pid" "/proc/$pid/ns/mnt")" ]] ||
    fail "the exec is not in the container's pid and mount namespaces: $out"
# With a terminal: ctr needs one of its own, which script(1) gives it, through the shell named by
# $SHELL (pinned: dash and bash differ below). ctr puts that terminal in raw mode, which a process
# outside the terminal's foreground process group cannot do: it is stopped by SIGTTOU and hangs.
# A plain `timeout` moves itself and ctr into a process group of their own, so it runs with
# --foreground (where the shell does not exec it, as dash does not, that group is not the
# terminal's).
out=$(SHELL=/bin/sh timeout -k 5 70 script -qec "timeout --foreground -k 5 60 ctr -a $D/containerd.sock -n $ns task exec --fifo-dir $D/fifo \
    -t --exec-id e2 t2 sh -c 'tty; sleep 1'" /dev/null </dev/null 2>&1) || fail "task exec -t: $out"
[[ $out == *"/dev/pts/"* ]] || fail "the exec with -t has no terminal: $out"
rc=0
c task exec --fifo-dir "$D/fifo" --exec-id e3 t2 sh -c 'sleep 1; exit 3' || rc=$?
[[ $rc == 3 ]] || fail "task exec of 'exit 3' returned $rc"
echo "ok: task exec, in the container's namespaces, with a terminal, with its exit status"

out=$(c task pause t2 2>&1) || fail "task pause: $out"
[[ $(status t2) == PAUSED ]] || fail "paused task is not PAUSED: $(c task ls)"
grep -qx "$frozen" "$freezer_file" || fail "the cgroup is not frozen ($freezer_file: $(cat "$freezer_file"))"
out=$(c task resume t2 2>&1) || fail "task resume: $out"
[[ $(status t2) == RUNNING ]] || fail "resumed task is not RUNNING: $(c task ls)"
grep -qx "$thawed" "$freezer_file" || fail "the cgroup is still frozen ($freezer_file: $(cat "$freezer_file"))"
echo "ok: task pause and resume"

out=$(c task metrics t2 2>&1) || fail "task metrics: $out"
# cgroup v1: memory.usage_in_bytes and memory.limit_in_bytes; v2: memory.usage and memory.usage_limit.
grep -Eq '^memory\.usage(_in_bytes)? +[1-9][0-9]* *$' <<<"$out" || fail "task metrics shows no memory usage: $out"
grep -Eq '^memory\.(limit_in_bytes|usage_limit) +67108864 *$' <<<"$out" ||
    fail "task metrics does not show the memory limit: $out"
echo "ok: task metrics"

out=$(c task kill -s SIGKILL t2 2>&1) || fail "task kill: $out"
for _ in $(seq 100); do [[ $(status t2) == STOPPED ]] && break; sleep 0.1; done
[[ $(status t2) == STOPPED ]] || fail "killed task is not STOPPED: $(c task ls)"
out=$(c task delete t2 2>&1) || fail "task delete: $out"
out=$(c container delete t2 2>&1) || fail "container delete: $out"
[[ -z $(c container ls -q) ]] || fail "containers left: $(c container ls -q)"
gone "$pid" || fail "the container's process outlived task delete"
[[ ! -e ${memory_file%/*} ]] || fail "the container's cgroup outlived task delete: ${memory_file%/*}"
[[ -z $(ls -A "$D/runtime-root/$ns" 2>/dev/null) ]] || fail "hutch-oci state left: $(ls "$D/runtime-root/$ns")"
echo "ok: task kill and delete, container delete leave no process, cgroup or state"
