#!/usr/bin/env bash
# Builds hutch's guest kernel (tinyconfig + config.fragment, from Debian's linux-source-6.1) once, and
# prints the directory that holds it: bzImage, vmlinux (QEMU boots it through PVH) and config.
#
# The result is cached outside the work tree, keyed by the fragment, this script and the kernel
# source's package version: $HUTCH_VM_CACHE/guest-kernel/<sha256>/ (HUTCH_VM_CACHE defaults to
# /var/cache/hutch, or ~/.cache/hutch where that is not writable). When it is there, this script
# only prints its path. A build takes a few minutes on 2 cores; it runs in a temporary directory
# beside the cache that is removed however the build ends, and the result is renamed into place
# whole, so an interrupted build leaves nothing half-made. Concurrent callers wait for one build.
#
# Usage: microvm/guest-kernel/build.sh        (scripts/setup.sh installs what it needs)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fragment=$here/config.fragment
source_pkg=linux-source-6.1
tarball=/usr/src/$source_pkg.tar.xz

die() {
    echo "build.sh: $*" >&2
    exit 1
}

[[ -r $tarball ]] || die "$tarball is missing: install $source_pkg (scripts/setup.sh does)"
source_version=$(dpkg-query -W -f='${Version}' "$source_pkg" 2>/dev/null) ||
    die "cannot read $source_pkg's version with dpkg-query"

key=$({
    sha256sum <"$fragment"
    sha256sum <"${BASH_SOURCE[0]}"
    echo "$source_pkg $source_version"
} | sha256sum | cut -c1-64)

cache_root=${HUTCH_VM_CACHE:-/var/cache/hutch}
if ! mkdir -p "$cache_root/guest-kernel" 2>/dev/null || [[ ! -w $cache_root/guest-kernel ]]; then
    [[ -z ${HUTCH_VM_CACHE:-} ]] || die "cannot write the cache $HUTCH_VM_CACHE/guest-kernel"
    cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/hutch
    mkdir -p "$cache_root/guest-kernel" || die "cannot create the cache $cache_root/guest-kernel"
fi
cache=$cache_root/guest-kernel
out=$cache/$key

complete() { [[ -s $out/vmlinux && -s $out/bzImage && -s $out/config ]]; }

# The fast path: no lock, no tools.
if complete; then
    echo "$out"
    exit 0
fi

# One build at a time; whoever waited finds the kernel built.
exec 9>"$cache/.lock"
flock 9
if complete; then
    echo "$out"
    exit 0
fi

missing=()
for tool in make gcc bc flex bison tar xz perl; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
[[ -e /usr/include/gelf.h ]] || missing+=(libelf-dev)
[[ -e /usr/include/openssl/opensslv.h ]] || missing+=(libssl-dev)
[[ ${#missing[@]} -eq 0 ]] || die "missing to build the guest kernel: ${missing[*]} (scripts/setup.sh installs them)"

# A build killed outright (SIGKILL, a reboot) leaves its directory: with the lock held, no build
# is running, so every one there is stale.
rm -rf "$cache"/.build.*

# Beside the cache, so that the final rename stays on one filesystem.
work=$(mktemp -d "$cache/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log=$work/build.log
start=$SECONDS
echo "build.sh: building the guest kernel ($source_pkg $source_version) in $work; log: $log" >&2

tar -xf "$tarball" -C "$work"
src=$work/$source_pkg
run() {
    if ! "$@" >>"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "failed: $* (log above)"
    fi
}
run make -C "$src" ARCH=x86_64 tinyconfig
run "$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "$fragment"
run make -C "$src" ARCH=x86_64 olddefconfig

# tinyconfig drops what lacks a dependency without a word: every line of the fragment must have
# survived, as written.
lost=()
while IFS= read -r line; do
    if [[ $line =~ ^CONFIG_([A-Za-z0-9_]+)=(.*)$ ]]; then
        grep -qxF -- "$line" "$src/.config" || lost+=("$line (got: $(grep -E "^(# )?CONFIG_${BASH_REMATCH[1]}[= ]" "$src/.config" || echo absent))")
    elif [[ $line =~ ^#\ CONFIG_([A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
        ! grep -qE "^CONFIG_${BASH_REMATCH[1]}=" "$src/.config" || lost+=("$line (got: $(grep -E "^CONFIG_${BASH_REMATCH[1]}=" "$src/.config"))")
    fi
done <"$fragment"
if [[ ${#lost[@]} -gt 0 ]]; then
    printf 'build.sh: not in the final .config: %s\n' "${lost[@]}" >&2
    die "${#lost[@]} option(s) of config.fragment did not survive (missing dependencies?)"
fi

echo "build.sh: configured; compiling with make -j$(nproc)" >&2
run make -C "$src" ARCH=x86_64 -j"$(nproc)" bzImage

mkdir "$work/out"
cp "$src/arch/x86/boot/bzImage" "$src/vmlinux" "$work/out/"
cp "$src/.config" "$work/out/config"
chmod -R a+rX "$work/out"
# Another builder could not have got here first (the lock), but a stale directory from a killed
# rename-less past might: replace it.
rm -rf "$out"
mv -T "$work/out" "$out"
echo "build.sh: built in $((SECONDS - start)) s: $out" >&2
echo "$out"
