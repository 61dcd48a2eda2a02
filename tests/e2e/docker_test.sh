#!/usr/bin/env bash
# dockerd (Debian's docker.io 20.10) drives hutch-oci, through its containerd and runc shim, over a
# container's whole life: `run --rm` prints from inside the container; a detached container with a
# memory and pids limit runs in the cgroup docker asked for, its state kept where dockerd's --root
# says; `exec` joins its namespaces (exit status kept, a tty given with -t); pause freezes it and
# unpause thaws it; `stats` reads its limit; stop, start (a second create of the same id), restart,
# kill and rm leave no process, state or cgroup.
# Everything dockerd, its containerd and hutch-oci keep lives under one temporary directory, removed
# on exit with the mounts under it, the cgroups of the test's cgroup parent, and what dockerd writes
# outside it (/etc/docker/key.json, /opt/containerd, /run/containerd/s) when the test created them.
# Usage: docker_test.sh HUTCH_OCI_BINARY SOURCE_DIR
set -euo pipefail
oci=${1:?usage: docker_test.sh HUTCH_OCI_BINARY SOURCE_DIR}
src=${2:?usage: docker_test.sh HUTCH_OCI_BINARY SOURCE_DIR}
case $oci in /*) ;; *) oci=$(pwd)/$oci ;; esac   # dockerd runs it from elsewhere
dockerd=/usr/sbin/dockerd docker=/usr/bin/docker   # /usr/local/bin may hold another docker client
[[ -x $dockerd && -x $docker ]] || { echo "docker.io is not installed (scripts/setup.sh installs it)"; exit 1; }
command -v script >/dev/null || { echo "script(1) is not installed (bsdutils)"; exit 1; }

D=$(mktemp -d /tmp/hutch-e2e-docker.XXXXXX)
parent=${D##*/}   # the containers' cgroup parent: one cgroup per hierarchy, the test's own
dockerd_pid='' had_key=false had_opt=false had_docker_cgroup=false
[[ -e /etc/docker/key.json ]] && had_key=true
[[ -e /opt/containerd ]] && had_opt=true
had_run_dirs=()   # dockerd's containerd keeps its shims' sockets in /run/containerd/s
for dir in /run/containerd /run/containerd/s; do [[ -d $dir ]] && had_run_dirs+=("$dir"); done
if compgen -G '/sys/fs/cgroup/*/docker' >/dev/null || [[ -d /sys/fs/cgroup/docker ]]; then had_docker_cgroup=true; fi
d() { timeout 60 "$docker" -H "unix://$D/docker.sock" "$@"; }
alive() { [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; }
wait_gone() { for _ in $(seq 100); do alive "$1" || return 0; sleep 0.1; done; return 1; }
pid_of() { if [[ -s $1 ]]; then cat "$1"; fi; }

cleanup() {
    set +e
    if [[ -S $D/docker.sock ]]; then
        d ps -aq 2>/dev/null | xargs -r timeout 60 "$docker" -H "unix://$D/docker.sock" rm -f >/dev/null 2>&1
    fi
    [[ -n $dockerd_pid ]] || dockerd_pid=$(pid_of "$D/dockerd.pid")
    containerd_pid=$(pid_of "$D/exec/containerd/containerd.pid")
    if alive "$dockerd_pid"; then
        kill "$dockerd_pid"
        wait_gone "$dockerd_pid" || { kill -9 "$dockerd_pid"; wait_gone "$dockerd_pid"; }
    fi
    # What a dockerd that did not stop cleanly leaves: the containers, their shims, its containerd
    # (shims, containerd and hutch-oci: the processes of those names whose command line names $D).
    for f in "$D"/exec/containerd/daemon/io.containerd.runtime.v2.task/moby/*/init.pid; do
        p=$(pid_of "$f"); alive "$p" && kill -9 "$p"
    done
    for dir in /proc/[0-9]*; do
        case $(cat "$dir/comm" 2>/dev/null) in containerd* | dockerd | hutch-oci) ;; *) continue ;; esac
        tr '\0' ' ' <"$dir/cmdline" 2>/dev/null | grep -qF "$D/" && kill -9 "${dir#/proc/}"
    done
    if alive "$containerd_pid"; then kill -9 "$containerd_pid"; wait_gone "$containerd_pid"; fi
    grep -F " $D/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l
    for dir in /sys/fs/cgroup/"$parent" /sys/fs/cgroup/*/"$parent"; do
        [[ -d $dir ]] && find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null
    done
    if ! $had_docker_cgroup; then
        for dir in /sys/fs/cgroup/docker /sys/fs/cgroup/*/docker; do
            [[ -d $dir ]] && find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null
        done
    fi
    for dir in /run/containerd/s /run/containerd; do
        [[ " ${had_run_dirs[*]} " == *" $dir "* ]] || rmdir "$dir" 2>/dev/null
    done
    $had_key || rm -f /etc/docker/key.json
    $had_opt || { [[ -d /opt/containerd ]] && find /opt/containerd -depth -type d -empty -delete; }
    rm -rf "$D"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*"
    echo "--- hutch-oci as dockerd's shim called it ($D/runtime.log, less --log):"
    tail -n 5 "$D/runtime.log" 2>/dev/null | sed 's/ --log [^ ]* --log-format json//'
    echo "--- dockerd's errors ($D/dockerd.log):"
    grep 'level=error' "$D/dockerd.log" 2>/dev/null | tail -n 5
    exit 1
}

# hutch-oci behind a wrapper that writes down how the shim calls it (--root, the verbs), as given.
cat >"$D/runtime" <<WRAP
#!/bin/sh
echo "\$*" >>$D/runtime.log
exec $oci "\$@"
WRAP
chmod +x "$D/runtime"
echo '{}' >"$D/daemon.json"

"$src/examples/busybox/make-rootfs.sh" "$D/rootfs"
tar -C "$D/rootfs" -cf "$D/busybox.tar" .

"$dockerd" --config-file "$D/daemon.json" --data-root "$D/data" --exec-root "$D/exec" \
    --pidfile "$D/dockerd.pid" -H "unix://$D/docker.sock" --iptables=false --ip6tables=false \
    --ip-forward=false --ip-masq=false --bridge=none --userland-proxy=false --storage-driver overlay2 \
    --exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "/$parent" \
    --add-runtime hutch="$D/runtime" </dev/null >"$D/dockerd.log" 2>&1 &
dockerd_pid=$!
for _ in $(seq 150); do d version >/dev/null 2>&1 && break; sleep 0.2; done
d version >/dev/null || fail "dockerd does not answer on $D/docker.sock"
d import --change 'CMD ["/bin/sh"]' "$D/busybox.tar" localhost/busybox >/dev/null || fail "docker import"
echo "ok: dockerd runs with hutch-oci as runtime hutch"

out=$(d run --runtime hutch --rm --network none localhost/busybox sh -c 'echo hello from hutch; echo pid=$$' 2>&1) ||
    fail "docker run --rm failed: $out"
[[ $out == *"hello from hutch"* ]] || fail "run --rm printed: $out"
[[ $out == *"pid=1"* ]] || fail "the container's shell is not pid 1: $out"
echo "ok: docker run --rm"

d run -d --runtime hutch --network none --name c1 --memory 64m --pids-limit 50 localhost/busybox sleep 1000 \
    >/dev/null || fail "docker run -d failed"
[[ $(d inspect -f '{{.State.Status}}' c1) == running ]] || fail "detached container is not running"
[[ $(d inspect -f '{{.HostConfig.Runtime}}' c1) == hutch ]] || fail "c1's runtime is not hutch"
id=$(d inspect -f '{{.Id}}' c1)
pid=$(d inspect -f '{{.State.Pid}}' c1)
alive "$pid" || fail "c1's pid $pid is not running"
ps -o args= -p "$pid" | grep -q '^sleep 1000' || fail "pid $pid is not the container's sleep: $(ps -o args= -p "$pid")"
if [[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]]; then   # cgroup v2: one cgroup, every controller
    cg=/sys/fs/cgroup$(grep '^0::' "/proc/$pid/cgroup" | cut -d: -f3)
    memory_file=$cg/memory.max pids_file=$cg/pids.max freezer_file=$cg/cgroup.freeze frozen=1
else
    memory_file=/sys/fs/cgroup/memory$(grep ':memory:' "/proc/$pid/cgroup" | cut -d: -f3)/memory.limit_in_bytes
    pids_file=/sys/fs/cgroup/pids$(grep ':pids:' "/proc/$pid/cgroup" | cut -d: -f3)/pids.max
    freezer_file=/sys/fs/cgroup/freezer$(grep ':freezer:' "/proc/$pid/cgroup" | cut -d: -f3)/freezer.state
    frozen=FROZEN
fi
[[ $memory_file == *"/$parent/$id/"* ]] || fail "not in the cgroup docker asked for: $memory_file"
[[ $(cat "$memory_file") == 67108864 ]] || fail "memory limit not in the cgroup ($memory_file)"
[[ $(cat "$pids_file") == 50 ]] || fail "pids limit not in the cgroup ($pids_file)"
root=$(grep -m1 -o -- "--root [^ ]*" "$D/runtime.log" | cut -d' ' -f2)
[[ $root == "$D/exec/"* ]] || fail "dockerd's --root for hutch-oci is not under its exec root: $root"
[[ -d $root/$id ]] || fail "hutch-oci's state dir $root holds no $id"
"$oci" --root "$root" state "$id" | grep -q '"status": *"running"' || fail "hutch-oci state $id is not running"
d ps --format '{{.Names}}' | grep -qx c1 || fail "docker ps does not list c1"
echo "ok: docker run -d with --memory and --pids-limit, state in hutch-oci's --root $root"

# Each exec'd process outlives its start by a second: dockerd drives containerd 1.6's shim, which
# drops the exit of an exec that ends before it has read the pid file (containerd_test.sh says more).
out=$(d exec c1 sh -c 'cat /proc/1/cmdline; sleep 1' 2>&1 | tr '\0' ' ') || fail "docker exec failed: $out"
[[ $out == "sleep 1000 " ]] || fail "exec does not see the container's pid 1: $out"
rc=0; d exec c1 sh -c 'sleep 1; exit 3' || rc=$?
[[ $rc == 3 ]] || fail "exec's exit status is $rc, not 3"
# --foreground keeps docker in the terminal's foreground process group (containerd_test.sh says why).
out=$(SHELL=/bin/sh timeout 90 script -qec "timeout --foreground 60 $docker -H unix://$D/docker.sock exec -t c1 sh -c 'tty; sleep 1'" /dev/null 2>&1) ||
    fail "docker exec -t failed: $out"
[[ $out == *"/dev/pts/"* ]] || fail "exec -t gave no terminal: $out"
echo "ok: docker exec joins the container, keeps the exit status, gives a tty"

d pause c1 >/dev/null || fail "docker pause failed"
[[ $(d inspect -f '{{.State.Status}}' c1) == paused ]] || fail "c1 is not paused"
[[ $(cat "$freezer_file") == "$frozen" ]] || fail "c1's cgroup is not frozen ($freezer_file)"
d unpause c1 >/dev/null || fail "docker unpause failed"
[[ $(d inspect -f '{{.State.Status}}' c1) == running ]] || fail "c1 is not running after unpause"
[[ $(cat "$freezer_file") != "$frozen" ]] || fail "c1's cgroup is still frozen ($freezer_file)"
echo "ok: docker pause and unpause"

out=$(d stats --no-stream --format '{{.MemUsage}}' c1 2>&1) || fail "docker stats failed: $out"
[[ $out == *"/ 64MiB"* ]] || fail "stats shows no 64MiB limit: $out"
echo "ok: docker stats: $out"

d stop -t 1 c1 >/dev/null || fail "docker stop failed"
[[ $(d inspect -f '{{.State.Status}}' c1) == exited ]] || fail "c1 did not exit on stop"
wait_gone "$pid" || fail "c1's process outlived docker stop"
d start c1 >/dev/null || fail "docker start of a stopped container failed"
[[ $(d inspect -f '{{.State.Status}}' c1) == running ]] || fail "c1 is not running after start"
[[ $(grep -c " create .* $id\$" "$D/runtime.log") == 2 ]] || fail "hutch-oci did not create $id a second time"
pid2=$(d inspect -f '{{.State.Pid}}' c1)
d restart -t 1 c1 >/dev/null || fail "docker restart failed"
[[ $(d inspect -f '{{.State.Status}}' c1) == running ]] || fail "c1 is not running after restart"
pid3=$(d inspect -f '{{.State.Pid}}' c1)
[[ $pid3 != "$pid2" ]] || fail "restart kept pid $pid2"
wait_gone "$pid2" || fail "the container's process before restart ($pid2) outlived it"
echo "ok: docker stop, start and restart"

d kill c1 >/dev/null || fail "docker kill failed"
d rm -f c1 >/dev/null || fail "docker rm -f failed"
wait_gone "$pid3" || fail "the container's process outlived docker kill and rm"
[[ ! -e $root/$id ]] || fail "hutch-oci state left: $root/$id"
[[ ! -e ${memory_file%/*} ]] || fail "c1's cgroup left: ${memory_file%/*}"
[[ -z $(d ps -aq) ]] || fail "docker still lists containers: $(d ps -a)"
echo "ok: docker kill and rm leave no process, state or cgroup"
