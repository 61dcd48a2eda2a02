# shellcheck shell=bash
# What bench/share.sh and bench/run-image.sh (the `hutch` command, containers from images) share:
# an OCI layout of a rootfs, and the sweep of mounts left under $tmp. Sourced after bench/lib.sh.
for tool in umoci findmnt; do
    command -v "$tool" >/dev/null || { echo "$me: $tool is missing: run scripts/setup.sh" >&2; exit 1; }
done

# An OCI layout at LAYOUT whose image TAG is ROOTFS as one layer (umoci's gzip), its config set by
# umoci config's flags (--config.cmd=...).
make_layout() {   # rootfs layout tag [umoci config flags...]
    local rootfs=$1 layout=$2 tag=$3
    shift 3
    umoci init --layout "$layout"
    umoci new --image "$layout:$tag"
    umoci insert --image "$layout:$tag" "$rootfs" /
    if [[ $# -gt 0 ]]; then umoci config --image "$layout:$tag" "$@"; fi
}

# Every mount below the DIRs, deepest first, detached: what a container of a failed run may leave,
# and what `rm -rf` would otherwise walk into. Prints the ones it found (none after a clean run).
unmount_under() {   # dir...
    local mounts m dir
    mounts=$(for dir in "$@"; do findmnt -rn -o TARGET | grep -F "$dir/" || true; done | sort -ru)
    [[ -n $mounts ]] || return 0
    echo "$me: mounts left under $* (unmounted now): $(tr '\n' ' ' <<<"$mounts")" >&2
    while read -r m; do umount -l "$m" 2>/dev/null || true; done <<<"$mounts"
}
