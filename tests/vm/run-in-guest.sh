#!/usr/bin/env bash
# Runs a command in a QEMU guest (TCG, no KVM needed) that is a pure cgroup v2 host, and exits
# with the command's status. The guest sees the host's whole root read-only over virtio-9p, under
# a tmpfs overlay: it can write anywhere, the host is never changed, and the command runs in the
# caller's current directory with the host's binaries. See tests/vm/README.md.
#
# Usage: tests/vm/run-in-guest.sh [OPTIONS] -- COMMAND [ARGS...]
#   --systemd          boot Debian's systemd as PID 1 and run COMMAND as a unit once the system
#                      is up (default: a minimal init runs COMMAND, and powers off)
#   --timeout SECONDS  kill the guest after this long, boot included (default 600)
#   --mem MB           guest memory (default 2048)
#   --env NAME[=VALUE] also pass NAME to COMMAND (its host value when no VALUE); CI and every
#                      HUTCH_* variable are passed anyway
#   --append PARAMS    more kernel parameters (e.g. printk.time=1 to see where a boot spends time)
#   --verbose          show the kernel's boot messages and the QEMU command line
# Exit status: COMMAND's; 124 on timeout; 125 when the guest never reported one (a panic, a
# failed boot: rerun with --verbose); 1 when this host cannot run the guest.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
usage="usage: run-in-guest.sh [--systemd] [--timeout SECONDS] [--mem MB] [--env NAME[=VALUE]] [--append PARAMS] [--verbose] -- COMMAND [ARGS...]"

# die MESSAGE [STATUS]
die() {
    echo "run-in-guest.sh: $1" >&2
    exit "${2:-1}"
}

mode=plain
timeout=600
mem=2048
verbose=false
envs=()
extra_append=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --systemd) mode=systemd ;;
    --timeout)
        [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--timeout wants a number of seconds; $usage"
        timeout=$2
        shift
        ;;
    --mem)
        [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--mem wants a number of MiB; $usage"
        mem=$2
        shift
        ;;
    --env)
        [[ ${2:-} =~ ^[A-Za-z_][A-Za-z0-9_]*(=.*)?$ ]] || die "--env wants NAME or NAME=VALUE; $usage"
        envs+=("$2")
        shift
        ;;
    --append)
        [[ $# -ge 2 ]] || die "--append wants kernel parameters; $usage"
        read -r -a more <<<"$2"
        extra_append+=("${more[@]}")
        shift
        ;;
    --verbose) verbose=true ;;
    -h | --help)
        echo "$usage"
        exit 0
        ;;
    --)
        shift
        break
        ;;
    *) die "unknown option $1; $usage" ;;
    esac
    shift
done
[[ $# -gt 0 ]] || die "no command; $usage"

command -v qemu-system-x86_64 >/dev/null ||
    die "qemu-system-x86_64 is missing: the VM test bed needs qemu-system-x86 (scripts/setup.sh installs it)"
# The kernel's init= and the guest's working directory are host paths, seen as they are through 9p;
# the kernel command line cannot quote a space.
[[ $here != *[[:space:]]* ]] || die "the repository's path has white space ($repo): the guest kernel's init= cannot name it"
case $PWD in
/run | /run/* | /proc | /proc/* | /sys | /sys/* | /dev | /dev/*)
    die "the current directory $PWD is hidden in the guest (its own /run, /proc, /sys, /dev): cd elsewhere"
    ;;
esac

# The kernel: cached; built (minutes) on first use. Its progress goes to stderr.
kernel_dir=$("$repo/microvm/guest-kernel/build.sh") || die "cannot build the guest kernel (see above)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hutch-vm.XXXXXX")
qemu_pid=
cleanup() {
    trap - EXIT INT TERM HUP
    if [[ -n $qemu_pid ]] && kill -0 "$qemu_pid" 2>/dev/null; then
        # `timeout` passes TERM on to QEMU, which quits at once.
        kill -TERM "$qemu_pid" 2>/dev/null || true
        wait "$qemu_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "run-in-guest.sh: interrupted; the guest is killed" >&2; exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# The share the guest writes back through: what to run in, the status out.
io=$tmp/io
mkdir "$io"
echo "$mode" >"$io/mode"
# The guest has its own empty /tmp. What lies in the host's /tmp and is needed there stays
# visible: this repository (guest-init.sh), the current directory, and paths named in COMMAND.
for path in "$repo" "$PWD" "$@"; do
    if [[ $path == /tmp/?* && $path != *$'\n'* ]]; then
        rest=${path#/tmp/}
        echo "/tmp/${rest%%/*}"
    fi
done | sort -u >"$io/visible"
if [[ -t 1 ]]; then
    : >"$io/output-is-a-terminal"
fi
{
    echo "# written by run-in-guest.sh on the host; run by tests/vm/guest-init.sh in the guest"
    echo "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8"
    echo "export TERM=$(printf %q "${TERM:-dumb}")"
    # CI and HUTCH_* always: the tests read them (CI=true makes them strict about host features).
    for name in $(compgen -e); do
        if [[ $name == CI || $name == HUTCH_* ]]; then
            echo "export $name=$(printf %q "${!name}")"
        fi
    done
    for e in "${envs[@]}"; do
        if [[ $e == *=* ]]; then
            echo "export ${e%%=*}=$(printf %q "${e#*=}")"
        elif [[ -v $e ]]; then
            echo "export $e=$(printf %q "${!e}")"
        fi
    done
    echo "cd -- $(printf %q "$PWD") || exit 125"
    printf 'exec'
    printf ' %q' "$@"
    echo
} >"$io/command.sh"

# q35 with PVH boot of the ELF vmlinux: no decompression, no bootloader. -M microvm is not used:
# Debian's kernels hang on it calibrating the TSC against the PIT.
append=(
    console=ttyS0 panic=-1 reboot=t
    root=hostroot rootfstype=9p ro
    rootflags=trans=virtio,version=9p2000.L,msize=262144,cache=loose,access=any
    init="$here/guest-init.sh"
    # Under TCG the TSC is one host-clock counter for all vCPUs, so it is synchronised; the
    # kernel's check fails only because vCPU threads get preempted, and falls back to the HPET,
    # whose every read is an emulated MMIO access (clock_gettime costs 2.5 times as much).
    tsc=reliable
    systemd.unified_cgroup_hierarchy=1 systemd.show_status=auto
)
if ! $verbose; then
    append+=(quiet)
fi
append+=("${extra_append[@]}")
qemu=(
    qemu-system-x86_64 -M q35 -accel tcg -cpu max -smp 2 -m "$mem"
    -nodefaults -no-user-config -display none -no-reboot -serial stdio
    -kernel "$kernel_dir/vmlinux" -append "${append[*]}"
    # The host's root, read-only: QEMU refuses every write, whatever the guest does.
    -fsdev "local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap"
    -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot
    -fsdev "local,id=hutchio,path=$io,security_model=none"
    -device virtio-9p-pci,fsdev=hutchio,mount_tag=hutchio
    # A disk for the io controller to limit (/dev/vda: reads zeros, writes go nowhere).
    -drive if=none,id=scratch,driver=null-co,size=1G,read-zeroes=on
    -device virtio-blk-pci,drive=scratch
    -device virtio-rng-pci
)
if $verbose; then
    echo "run-in-guest.sh: ${qemu[*]}" >&2
fi

# stdin from /dev/null: the guest reads nothing, and QEMU leaves the terminal's modes alone.
timeout --kill-after=10 "$timeout" "${qemu[@]}" </dev/null &
qemu_pid=$!
rc=0
wait "$qemu_pid" || rc=$?
qemu_pid=

if [[ $rc -eq 124 || $rc -eq 137 ]]; then
    die "timed out after $timeout s (--timeout); the guest was killed" 124
fi
if [[ ! -f $io/status ]]; then
    die "the guest never reported the command's exit status (QEMU exit $rc: a kernel panic or a failed boot? rerun with --verbose)" 125
fi
status=$(<"$io/status")
[[ $status =~ ^[0-9]+$ ]] || die "the guest reported a garbled exit status: $status" 125
exit "$status"
