#!/bin/bash
# The VM test bed's init (tests/vm/run-in-guest.sh boots the guest kernel with init=<this file>).
# It runs inside the guest, never on the host.
#
# The kernel mounts the host's root read-only over virtio-9p (mount tag hostroot) and runs this
# file as PID 1 from it. Stage 1 lays a tmpfs overlay over that root and moves into it, so the
# guest may write anywhere while the host stays untouched. Stage 2 (this file again, from the
# overlay) mounts the API filesystems, makes a pure cgroup v2 host and either runs the command
# itself (plain mode) or hands PID 1 to systemd, which runs it as a unit (--systemd).
#
# What to run comes from the host through a small writable 9p share (mount tag hutchio, at
# /run/hutch-vm): command.sh (environment, directory, command), mode (plain or systemd). The
# command's exit status goes back as the file status there, which run-in-guest.sh reads.
#
# Usage (by the kernel): guest-init.sh; guest-init.sh --stage2; guest-init.sh --run-command
# No `set -e`: PID 1 exiting panics the kernel, and the host would learn nothing. Each step that
# must not fail goes through must(), which reports the step and powers off.
set -uo pipefail

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
self=$(readlink -f "${BASH_SOURCE[0]}")
io=/run/hutch-vm

say() { echo "guest-init: $*" >/dev/console; }

power_off() {
    # Straight to the firmware: nothing in the guest is worth a clean shutdown. sysrq is the
    # fallback if poweroff is missing; -no-reboot on the host turns a reboot into an exit too.
    poweroff -f >/dev/null 2>&1
    echo o >/proc/sysrq-trigger 2>/dev/null
    sleep 10
    echo b >/proc/sysrq-trigger 2>/dev/null
    sleep infinity
}

must() {
    "$@" && return 0
    say "failed: $* (exit $?); powering off"
    power_off
}

stage1() {
    # The host's root is the read-only 9p mount at /; /run is only a mount point on it here.
    must mount -t tmpfs -o mode=0755 hutch-vm-overlay /run
    must mkdir /run/upper /run/work /run/root
    must mount -t overlay -o lowerdir=/,upperdir=/run/upper,workdir=/run/work hutch-vm-root /run/root
    # Move the overlay over / and enter it (what switch_root does; util-linux's switch_root
    # itself wants an initramfs). The 9p root stays mounted beneath, as the overlay's lower.
    cd /run/root || power_off
    must mount --move . /
    exec chroot . "$self" --stage2
}

stage2() {
    must mount -t proc -o nosuid,nodev,noexec proc /proc
    must mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
    must mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev
    mkdir -p /dev/pts /dev/shm
    must mount -t devpts -o nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5 devpts /dev/pts
    ln -sf pts/ptmx /dev/ptmx 2>/dev/null
    must mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /dev/shm
    # Fresh /run and /tmp: the host's ones would show through the overlay otherwise (and
    # systemd-tmpfiles would empty the host's /tmp into the overlay at every boot).
    must mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run
    mkdir -p "$io"
    must mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 hutchio "$io"
    mode=$(cat "$io/mode")
    # What the command needs from the host's /tmp (a checkout or build there: run-in-guest.sh
    # lists them in visible) stays visible, through the overlay, on top of the new /tmp.
    local host_tmp=/run/hutch-vm-host-tmp path
    mkdir -p "$host_tmp"
    must mount --bind /tmp "$host_tmp"
    must mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp
    while IFS= read -r path; do
        [[ $path == /tmp/?* && -e $host_tmp/${path#/tmp/} ]] || continue
        if [[ -d $host_tmp/${path#/tmp/} ]]; then
            mkdir -p "$path"
        else
            mkdir -p "$(dirname "$path")" && touch "$path"
        fi
        must mount --bind "$host_tmp/${path#/tmp/}" "$path"
    done <"$io/visible"
    umount "$host_tmp" && rmdir "$host_tmp"

    # The host runs in Docker; this guest does not. systemd would believe /.dockerenv and ignore
    # the kernel command line, among other things. Removing it here only whites it out in the
    # overlay.
    rm -f /.dockerenv /run/.containerenv
    echo hutch-vm >/etc/hostname
    hostname hutch-vm

    if [[ $mode == systemd ]]; then
        start_systemd
    fi

    # Plain mode: a pure cgroup v2 host, as systemd would make it (same mount options), with every
    # controller the kernel has enabled for the root's children.
    must mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup
    local controller controllers
    read -r -a controllers </sys/fs/cgroup/cgroup.controllers
    for controller in "${controllers[@]}"; do
        echo "+$controller" >/sys/fs/cgroup/cgroup.subtree_control ||
            say "cannot enable the $controller controller in the root cgroup"
    done
    if command -v ip >/dev/null; then
        ip link set lo up
    else
        say "no ip command: the loopback interface stays down"
    fi
    run_command
    power_off
}

# Runs command.sh, reports its exit status through the share, and powers off.
run_command() {
    local status
    # The console is the host's output: no \r before each \n (systemd resets the console's
    # modes when it starts, so this is done here).
    stty -onlcr </dev/console 2>/dev/null
    if [[ -e $io/output-is-a-terminal ]]; then
        bash "$io/command.sh" </dev/null >/dev/console 2>&1
        status=$?
    else
        # Not a terminal on the host (ctest, a pipe): not one in the guest either, so that
        # programs do not colour their output.
        bash "$io/command.sh" </dev/null 2>&1 | cat >/dev/console
        status=${PIPESTATUS[0]}
    fi
    echo "$status" >"$io/status.tmp" && mv "$io/status.tmp" "$io/status"
    if [[ $mode == systemd ]]; then
        systemctl poweroff --force --force
    fi
    power_off
}

# systemd takes over PID 1; the command runs as hutch-vm-command.service once the boot is done.
start_systemd() {
    local units=/etc/systemd/system
    # What the host's admin or packages enabled (postgresql, podman, apt's and man-db's timers,
    # gettys, time sync...) is of no use to a test and slows a TCG boot by seconds each: the guest
    # starts only what systemd's and D-Bus's packages pull in themselves. Removing the links only
    # whites them out in the overlay.
    find "$units" -mindepth 2 -maxdepth 2 -type l \( -path '*.wants/*' -o -path '*.requires/*' \) -delete
    # Of what those packages pull in, what is slow or pointless here: gettys (the console is the
    # host's output), kernel modules (there are none), persistent state (the overlay goes away),
    # the mounts of debugging filesystems.
    local mask=(
        getty.target getty@.service serial-getty@.service console-getty.service getty-static.service
        modprobe@.service kmod-static-nodes.service systemd-modules-load.service
        systemd-firstboot.service systemd-sysusers.service systemd-machine-id-commit.service
        systemd-random-seed.service systemd-journal-flush.service systemd-binfmt.service
        systemd-update-utmp.service systemd-update-utmp-runlevel.service
        systemd-remount-fs.service systemd-fsck-root.service systemd-pstore.service
        systemd-repart.service systemd-pcrphase.service systemd-pcrphase-sysinit.service
        systemd-tmpfiles-clean.timer systemd-ask-password-wall.path
        systemd-ask-password-console.path proc-sys-fs-binfmt_misc.automount dev-hugepages.mount
        sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount
        sys-fs-fuse-connections.mount
    )
    # One perl (Essential in Debian) rather than an ln per unit: each exec costs 30-50 ms here.
    perl -e 'my $dir = shift; for (@ARGV) { unlink "$dir/$_"; symlink "/dev/null", "$dir/$_" or die "mask $_: $!\n" }' \
        "$units" "${mask[@]}"
    cat >"$units/hutch-vm.target" <<'EOF'
[Unit]
Description=hutch VM test bed: the command, once the system is up
Requires=multi-user.target
After=multi-user.target
Wants=hutch-vm-command.service
AllowIsolate=yes
EOF
    cat >"$units/hutch-vm-command.service" <<EOF
[Unit]
Description=hutch VM test bed: the command
After=multi-user.target dbus.service

[Service]
Type=exec
ExecStart=$self --run-command
StandardInput=null
StandardOutput=tty
StandardError=tty
TTYPath=/dev/console
TTYReset=no
TTYVHangup=no
EOF
    # systemd mounts cgroup2 itself (run-in-guest.sh asks for the unified hierarchy on the
    # kernel command line, which systemd reads now that /.dockerenv is gone).
    exec /lib/systemd/systemd --unit=hutch-vm.target
}

case ${1:-} in
'') stage1 ;;
--stage2) stage2 ;;
--run-command)
    mode=$(cat "$io/mode")
    run_command
    ;;
*)
    say "unknown argument: $1"
    exit 2
    ;;
esac
