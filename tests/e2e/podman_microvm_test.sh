#!/usr/bin/env bash
# podman runs containers in microVMs through hutch-oci's run.oci.handler=microvm annotation: the
# process runs under the guest kernel (its /proc/cmdline is hutch's guest kernel's), prints, reads
# a volume and writes to it, sees the /etc/hosts podman binds in, and its exit status comes back;
# `run -t` gives it a terminal of the caller's size through conmon's console socket; a detached one
# shows in `ps`, runs `exec` and `exec -t`, takes new limits from `update`, pauses and unpauses, and `stop` ends it with SIGTERM,
# forwarded into the VM. On the host only: a VM under
# TCG inside the pure-v2 test guest's TCG would take minutes.
# Everything podman and hutch-oci keep lives under one temporary directory (podman_lib.sh).
# Usage: podman_microvm_test.sh HUTCH_OCI_BINARY SOURCE_DIR
set -euo pipefail
oci=${1:?usage: podman_microvm_test.sh HUTCH_OCI_BINARY SOURCE_DIR}
src=${2:?usage: podman_microvm_test.sh HUTCH_OCI_BINARY SOURCE_DIR}
source "$src/tests/e2e/podman_lib.sh"
command -v script >/dev/null || { echo "script is not installed (bsdutils)"; exit 1; }
kernel=$("$src/microvm/guest-kernel/build.sh" | head -n1)/vmlinux
vm=(--network none --annotation run.oci.handler=microvm --annotation "run.oci.microvm.kernel=$kernel")

mkdir "$D/shared"
echo "from the host" >"$D/shared/in"
status=0
out=$("$p" run --rm "${vm[@]}" -v "$D/shared:/data" localhost/busybox sh -c \
    'cat /proc/cmdline; cat /data/in; echo "from the VM" >/data/out; grep -c localhost /etc/hosts; exit 7') ||
    status=$?
[[ $status == 7 ]] || fail "run --rm exited $status, not 7: $out"
[[ $out == *"console=ttyS0"* ]] || fail "the process did not run under the guest kernel: $out"
[[ $out == *"from the host"* ]] || fail "the volume's file was not read: $out"
[[ $(cat "$D/shared/out" 2>/dev/null) == "from the VM" ]] || fail "the VM's write did not reach the host"
[[ $(tail -n1 <<<"$out") =~ ^[1-9] ]] || fail "podman's /etc/hosts was not copied in: $out"
echo "ok: podman run --rm in a microVM: guest kernel, volume both ways, /etc/hosts, exit status"

out=$(script -qec "stty rows 33 cols 77; $p run --rm -t ${vm[*]} localhost/busybox sh -c 'tty; stty size'" \
    /dev/null </dev/null)
[[ $out == *"/dev/pts/"* ]] || fail "run -t gave no terminal: $out"
[[ $out == *"33 77"* ]] || fail "run -t's terminal is not the caller's size: $out"
echo "ok: podman run -t in a microVM: a terminal of the caller's size"

# sh is PID 1 of its pid namespace in the guest, as in a host container: stop's SIGTERM reaches it
# because it handles it.
"$p" run -d --name vm "${vm[@]}" localhost/busybox sh -c "trap 'exit 143' TERM; sleep 1000 & wait" >/dev/null
[[ $("$p" ps --format '{{.Names}} {{.Status}}') == "vm Up"* ]] || fail "the detached VM is not up: $("$p" ps -a)"
[[ $("$p" exec vm cat /proc/1/comm) == sh ]] || fail "the VM's process is not PID 1 of its pid namespace"
echo "ok: podman run -d and ps of a microVM, its process PID 1 of its own pid namespace"

# exec, through conmon: stdin, stdout and the exit status; under podman's default seccomp profile
# and capabilities, which the agent applies in the guest.
status=0
out=$(echo fed | "$p" exec -i vm sh -c 'cat; grep -E "^(CapEff|Seccomp):" /proc/self/status; exit 4') || status=$?
[[ $status == 4 ]] || fail "exec exited $status, not 4: $out"
[[ $out == fed$'\n'* ]] || fail "exec's stdin did not come back: $out"
[[ $out == *$'CapEff:\t00000000800405fb'* ]] || fail "exec's process lacks podman's capabilities: $out"
[[ $out == *$'Seccomp:\t2'* ]] || fail "exec's process has no seccomp filter: $out"
# podman sizes an exec's terminal once the exec runs (conmon resizes the console it was handed),
# as with runc; the size then crosses into the VM, so the process waits for it (up to 5 s).
wait_size='i=0; while [ $i -lt 50 ] && [ "$(stty size 2>/dev/null)" != "21 61" ]; do sleep 0.1; i=$((i+1)); done'
out=$(script -qec "stty rows 21 cols 61; $p exec -t vm sh -c 'tty; $wait_size; stty size'" /dev/null </dev/null)
[[ $out == *"/dev/pts/"*"21 61"* ]] || fail "exec -t gave no terminal of the caller's size: $out"
echo "ok: podman exec and exec -t in a microVM, with podman's capabilities and seccomp filter"

# podman update hands hutch-oci its whole linux.resources; the agent writes the limits a VM takes
# into the process's cgroup in the guest (the VM has its default 512 MiB: 64 MiB fits).
"$p" update --memory 64m --cpus 0.5 vm >/dev/null
# (Its cgroup's path: on this host podman gives no cgroup namespace, so the guest's tree shows.)
limits=$("$p" exec vm sh -c 'cg=/sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup); cat $cg/memory.max $cg/cpu.max' |
    tr '\n' ' ')
[[ $limits == "67108864 50000 100000 " ]] || fail "update did not reach the VM's cgroup: $limits"
echo "ok: podman update of a microVM's memory and CPU limits"

"$p" pause vm >/dev/null
[[ $("$p" inspect vm --format '{{.State.Status}}') == paused ]] || fail "pause did not pause the VM"
"$p" unpause vm >/dev/null
[[ $("$p" inspect vm --format '{{.State.Status}}') == running ]] || fail "unpause did not let the VM go on"
[[ $("$p" exec vm echo after) == after ]] || fail "the VM does not run after unpause"
echo "ok: podman pause and unpause of a microVM"

"$p" stop -t 20 vm >/dev/null
[[ $("$p" inspect vm --format '{{.State.Status}} {{.State.ExitCode}}') == "exited 143" ]] ||
    fail "stop did not end the VM's process by SIGTERM: $("$p" inspect vm --format '{{.State.Status}} {{.State.ExitCode}}')"
"$p" rm vm >/dev/null
echo "ok: podman stop of a microVM"

leftover=$(pgrep -af -- "$D" || true)
[[ -z $leftover ]] || fail "processes left behind: $leftover"
echo "ok: nothing left"
