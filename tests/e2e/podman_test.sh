#!/usr/bin/env bash
# podman drives hutch-oci as its OCI runtime through a container's whole life: `run --rm` and
# `run -t` print from inside the container; a detached container with a memory and pids limit runs,
# is seen by `ps`, takes `exec` and `exec -t`, is paused and unpaused, shows in `stats` and `top`,
# is stopped and restarted, killed and removed; `--init --read-only --cap-drop all` with podman's
# default seccomp profile hold inside the container.
# Everything podman and hutch-oci keep lives under one temporary directory (podman_lib.sh).
# Usage: podman_test.sh HUTCH_OCI_BINARY SOURCE_DIR
# Environment: CGROUP_MANAGER: podman's --cgroup-manager, cgroupfs (default) or systemd (podman then
#              calls hutch-oci --systemd-cgroup: a host with systemd as PID 1).
set -euo pipefail
oci=${1:?usage: podman_test.sh HUTCH_OCI_BINARY SOURCE_DIR}
src=${2:?usage: podman_test.sh HUTCH_OCI_BINARY SOURCE_DIR}
source "$src/tests/e2e/podman_lib.sh"
limits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network none)

out=$("$p" run --rm "${limits[@]}" localhost/busybox sh -c 'echo hello from hutch; echo pid=$$')
[[ $out == *"hello from hutch"* ]] || fail "run --rm printed: $out"
[[ $out == *"pid=1"* ]] || fail "the container's shell is not pid 1: $out"
echo "ok: podman run --rm"

"$p" run -d --name limited --memory 64m --pids-limit 50 "${limits[@]}" localhost/busybox sleep 1000 >/dev/null
[[ $("$p" inspect limited --format '{{.State.Status}}') == running ]] || fail "detached container is not running"
pid=$("$p" inspect limited --format '{{.State.Pid}}')
if [[ $(stat -fc %T /sys/fs/cgroup) == cgroup2fs ]]; then   # cgroup v2: one cgroup, every controller
    cg=/sys/fs/cgroup$(grep '^0::' "/proc/$pid/cgroup" | cut -d: -f3)
    memory_file=$cg/memory.max pids_file=$cg/pids.max
else
    memory_file=/sys/fs/cgroup/memory$(grep ':memory:' "/proc/$pid/cgroup" | cut -d: -f3)/memory.limit_in_bytes
    pids_file=/sys/fs/cgroup/pids$(grep ':pids:' "/proc/$pid/cgroup" | cut -d: -f3)/pids.max
fi
if [[ ${CGROUP_MANAGER:-cgroupfs} == systemd ]]; then
    [[ $memory_file == */libpod-*.scope/memory.max ]] || fail "not in a systemd scope: $memory_file"
fi
[[ $(cat "$memory_file") == 67108864 ]] || fail "memory limit not in the cgroup ($memory_file)"
[[ $(cat "$pids_file") == 50 ]] || fail "pids limit not in the cgroup ($pids_file)"
"$p" ps --format '{{.Names}}' | grep -qx limited || fail "podman ps does not list it"
echo "ok: podman run -d with --memory and --pids-limit"

out=$("$p" exec limited sh -c 'cat /proc/1/cmdline | tr "\0" " "; echo; id -u')
[[ $out == "sleep 1000 "* ]] || fail "exec does not see the container's process as pid 1: $out"
set +e; "$p" exec limited sh -c 'exit 3'; code=$?; set -e
[[ $code == 3 ]] || fail "exec's exit status is $code, not 3"
out=$(script -qec "$p exec -t limited sh -c 'tty; test -t 0 && echo interactive'" /dev/null)
[[ $out == *"/dev/pts/"*interactive* ]] || fail "exec -t has no terminal: $out"
echo "ok: podman exec, exec -t, exit status"

out=$(script -qec "$p run --rm -t ${limits[*]} localhost/busybox sh -c 'tty; test -t 0 && echo interactive'" /dev/null)
[[ $out == *"/dev/pts/0"*interactive* ]] || fail "run -t has no terminal: $out"
echo "ok: podman run -t"

"$p" pause limited >/dev/null
[[ $("$p" inspect limited --format '{{.State.Status}}') == paused ]] || fail "pause did not pause"
"$p" unpause limited >/dev/null
[[ $("$p" inspect limited --format '{{.State.Status}}') == running ]] || fail "unpause did not resume"
echo "ok: podman pause and unpause"

usage=$("$p" stats --no-stream --format '{{.MemUsage}}' limited)
[[ $usage == *"67.11MB"* || $usage == *"64MiB"* ]] || fail "stats does not show the 64m limit: $usage"
"$p" top limited pid args | grep -q "sleep 1000" || fail "top does not list the container's process"
echo "ok: podman stats --no-stream and top"

"$p" stop -t 1 limited >/dev/null
[[ $("$p" inspect limited --format '{{.State.Status}}') == exited ]] || fail "stop did not stop"
"$p" restart -t 1 limited >/dev/null
[[ $("$p" inspect limited --format '{{.State.Status}}') == running ]] || fail "restart did not run it again"
pid=$("$p" inspect limited --format '{{.State.Pid}}')
echo "ok: podman stop and restart"

out=$("$p" run --rm --init --read-only --cap-drop all "${limits[@]}" localhost/busybox \
    sh -c 'cat /proc/1/cmdline | tr "\0" " "; echo; touch /x 2>/dev/null && echo writable || echo read-only;
           grep CapEff /proc/self/status; grep Seccomp: /proc/self/status')
[[ $out == */catatonit* || $out == *init* ]] || fail "--init: pid 1 is not podman's init: $out"
[[ $out == *read-only* ]] || fail "--read-only: the root is writable: $out"
[[ $out == *"CapEff:"*0000000000000000* ]] || fail "--cap-drop all left capabilities: $out"
[[ $out == *"Seccomp:"*2* ]] || fail "podman's default seccomp profile is not loaded: $out"
echo "ok: podman run --init --read-only --cap-drop all, with podman's default seccomp profile"

"$p" kill limited >/dev/null
"$p" rm -f limited >/dev/null
kill -0 "$pid" 2>/dev/null && fail "the container's process outlived podman rm"
[[ -z $(ls -A "$D/runtime-root" 2>/dev/null) ]] || fail "hutch-oci state left: $(ls "$D/runtime-root")"
echo "ok: podman kill and rm leave no process or state"
