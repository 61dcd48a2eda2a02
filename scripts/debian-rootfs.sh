#!/usr/bin/env bash
# Makes a Debian root filesystem once and keeps it: KEY/rootfs, from `debootstrap
# --variant=minbase` (206 MB, about 35 s from the Debian archive), for the tests and benchmarks
# that need a real distribution's image. Under KEY.lock, so that two callers at once never make it
# twice; a failed debootstrap leaves no KEY/rootfs (its log is KEY/debootstrap.log).
# Usage: scripts/debian-rootfs.sh KEY   (SUITE, default bookworm; MIRROR, default deb.debian.org)
set -euo pipefail
key=${1:?usage: debian-rootfs.sh KEY}
suite=${SUITE:-bookworm}
mirror=${MIRROR:-http://deb.debian.org/debian}
command -v debootstrap >/dev/null || { echo "debian-rootfs.sh: debootstrap is missing: run scripts/setup.sh" >&2; exit 1; }
mkdir -p "$key"
exec 9>"$key.lock"
flock 9
if [[ ! -d $key/rootfs ]]; then
    echo "debian-rootfs.sh: debootstrap --variant=minbase $suite into $key/rootfs (once)" >&2
    rm -rf "$key/rootfs.tmp"
    debootstrap --variant=minbase "$suite" "$key/rootfs.tmp" "$mirror" >"$key/debootstrap.log" 2>&1 \
        || { echo "debian-rootfs.sh: debootstrap failed: see $key/debootstrap.log" >&2; rm -rf "$key/rootfs.tmp"; exit 1; }
    mv "$key/rootfs.tmp" "$key/rootfs"
fi
