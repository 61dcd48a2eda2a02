#!/usr/bin/env bash
# Installs every package that hutch's build, tests, demo and benchmarks need, on Debian 12 as root.
# Idempotent and fast when nothing is missing: apt-get is not run at all then (works offline).
# Usage: scripts/setup.sh
set -euo pipefail

packages=(
    # build
    build-essential cmake pkg-config git clang-format
    libseccomp-dev libcap-dev nlohmann-json3-dev libcli11-dev catch2
    # the hutch-systemd helper (--systemd-cgroup; its tests need dbus, listed with the VM test bed)
    libsystemd-dev
    # images: the layer unpacker's tar reader, gzip inflater (ISA-L igzip) and zstd (images/;
    # its hashes use OpenSSL, libssl-dev below), and libcurl for the registry client
    libarchive-dev libisal-dev libzstd-dev libcurl4-openssl-dev
    # image tests: a registry on 127.0.0.1, skopeo to push into it, htpasswd for its basic auth
    docker-registry skopeo apache2-utils
    # tests, demo: a busybox image, the tools the tests and scripts call
    busybox-static iproute2 procps util-linux file python3
    # end-to-end tests: a real client driving hutch-oci
    podman containernetworking-plugins catatonit containerd docker.io
    # benchmarks: the peers, the timer, peak RSS; for the layer unpack (bench/unpack.sh) its peer
    # umoci and debootstrap, which makes the Debian rootfs that the layer holds
    runc crun hyperfine time umoci debootstrap
    # the VM test bed: QEMU, the guest kernel's source and what builds it, systemd's system bus in
    # the guest (tests/vm/, microvm/guest-kernel/)
    qemu-system-x86 linux-source-6.1 bc flex bison libelf-dev libssl-dev dbus
    # the microVM backend: mkfs.erofs makes each layer's read-only disk (microvm/host/)
    erofs-utils
)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    [[ $status == ii* ]] || missing+=("$p")
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "setup.sh: all ${#packages[@]} packages are installed"
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    echo "setup.sh: must run as root to install: ${missing[*]} (try: sudo $0)" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null; then
    echo "setup.sh: apt-get not found: hutch's setup supports Debian 12; install by hand: ${missing[*]}" >&2
    exit 1
fi

echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian's docker-registry starts a registry on port 5000 of every interface where systemd runs:
# the tests start their own on 127.0.0.1, so the one installed here is stopped and disabled (one
# that was there before is left as it was).
if [[ " ${missing[*]} " == *" docker-registry "* && -d /run/systemd/system ]]; then
    systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
fi
echo "setup.sh: done"
