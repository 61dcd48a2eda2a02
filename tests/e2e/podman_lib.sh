# Sourced by the podman end-to-end tests: a podman whose state, and hutch-oci's, live under one
# temporary directory $D (removed on exit, with the mounts and the cgroups podman leaves behind:
# its cgroupfs parent, libpod_parent), `p` its wrapper, the busybox image from examples/ imported
# as localhost/busybox, and `fail`.
# Needs: oci (hutch-oci), src (the source tree); CGROUP_MANAGER (cgroupfs by default, or systemd).
command -v podman >/dev/null || { echo "podman is not installed (scripts/setup.sh installs it)"; exit 1; }

D=$(mktemp -d /tmp/hutch-e2e-podman.XXXXXX)
cleanup() {
    "$D/podman" rm -af >/dev/null 2>&1 || true
    "$D/podman" rmi -af >/dev/null 2>&1 || true
    grep -F " $D/" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l || true
    find /sys/fs/cgroup -maxdepth 5 -type d -name libpod_parent 2>/dev/null |
        while read -r dir; do find "$dir" -depth -type d -exec rmdir {} \; 2>/dev/null || true; done
    rm -rf "$D"
}
trap cleanup EXIT

cat >"$D/runtime" <<WRAP
#!/bin/sh
exec $oci --root $D/runtime-root "\$@"
WRAP
cat >"$D/podman" <<WRAP
#!/bin/sh
exec podman --root $D/root --runroot $D/run --tmpdir $D/tmp --network-config-dir $D/net \
    --volumepath $D/vol --storage-driver overlay --cgroup-manager ${CGROUP_MANAGER:-cgroupfs} --events-backend file \
    --runtime $D/runtime "\$@"
WRAP
chmod +x "$D/runtime" "$D/podman"
p="$D/podman"

"$src/examples/busybox/make-rootfs.sh" "$D/rootfs"
tar -C "$D/rootfs" -cf "$D/busybox.tar" .
"$p" import --change 'CMD ["/bin/sh"]' "$D/busybox.tar" localhost/busybox >/dev/null

fail() { echo "FAIL: $*"; exit 1; }
