#!/usr/bin/env bash
# Layer unpack benchmark: hutch's unpacker against umoci and against `tar -xzf`, on one gzip layer
# that holds a debootstrapped Debian rootfs (minbase), each into a fresh directory, side by side in
# one hyperfine run with the order of the entries rotated from round to round. See bench/README.md
# ("Unpacking a layer") for the method.
#
# The rootfs, its layer and an OCI layout of it (tagged "bench", for umoci) are made once and kept
# in BENCH_CACHE (default /var/cache/hutch-bench), keyed by suite, variant and architecture.
#
# Usage: bench/unpack.sh   (as root, after `make build`)
# Environment: HUTCH_BENCH_UNPACK (default build/hutch-bench-unpack), RUNS (12 of each entry),
#              WARMUP (1, per round), ROUNDS (3), BENCH_OUT (default bench/), BENCH_CACHE,
#              SUITE (bookworm), MIRROR (http://deb.debian.org/debian), UNPACK_FS (ext4: a new
#              journaled ext4 on a loop device, or tmpfs; where every entry unpacks).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
driver=${HUTCH_BENCH_UNPACK:-$repo/build/hutch-bench-unpack}
runs=${RUNS:-12}
warmup=${WARMUP:-1}
rounds=${ROUNDS:-3}
out_dir=${BENCH_OUT:-$repo/bench}
cache=${BENCH_CACHE:-/var/cache/hutch-bench}
suite=${SUITE:-bookworm}
mirror=${MIRROR:-http://deb.debian.org/debian}
unpack_fs=${UNPACK_FS:-ext4}

source "$repo/bench/lib.sh"
for tool in umoci debootstrap tar gzip sha256sum mkfs.ext4; do
    command -v "$tool" >/dev/null || { echo "$me: $tool is missing: run scripts/setup.sh" >&2; exit 1; }
done
[[ -x $driver ]] || { echo "$me: $driver is missing: build it (cmake --build build --target hutch-bench-unpack)" >&2; exit 1; }

key=$cache/debian-$suite-minbase-$(dpkg --print-architecture)
layout=$key/layout
debian_layout "$key"   # the rootfs, its gzip layer and an OCI layout of it (lib.sh)
read -r layer_digest diff_id < <(python3 - "$layout" <<'PY'
import json, sys
layout = sys.argv[1]
manifest_digest = json.load(open(f"{layout}/index.json"))["manifests"][0]["digest"]
manifest = json.load(open(f"{layout}/blobs/sha256/{manifest_digest.split(':')[1]}"))
config = json.load(open(f"{layout}/blobs/sha256/{manifest['config']['digest'].split(':')[1]}"))
print(manifest["layers"][0]["digest"], config["rootfs"]["diff_ids"][0])
PY
)
blob=$layout/blobs/sha256/${layer_digest#sha256:}
media_type=application/vnd.oci.image.layer.v1.tar+gzip

# Every entry unpacks into a filesystem of the benchmark's own: by default a new ext4 (mkfs.ext4's
# defaults, so with a journal, as a host's /var/lib has) on a loop device, else a tmpfs. Not this
# VM's own disk: it is an ext4 without a journal, where the kernel will not reuse an inode freed in
# the last 30 s (dirty_expire_centisecs) and so scans past each one, for every file made: after
# the --prepare that removed the previous run's 6,800 files, that scan (find_inode_bit,
# recently_deleted) cost more than everything else in the unpack, for every entry alike.
out=$tmp/out
mkdir -p "$out"
scratch_mounts+=("$out")
case $unpack_fs in
    ext4)
        truncate -s 4G "$tmp/unpack.img"
        mkfs.ext4 -q -F "$tmp/unpack.img"
        mount -o loop "$tmp/unpack.img" "$out" ;;
    tmpfs) mount -t tmpfs -o size=4g hutch-bench-unpack "$out" ;;
    *) echo "$me: UNPACK_FS must be ext4 or tmpfs, not $unpack_fs" >&2; exit 1 ;;
esac
tar_size=$(gzip -dc "$blob" | wc -c)
echo "== layer: $blob"
echo "   $(stat -c %s "$blob") bytes gzip, $tar_size bytes of tar, $(find "$key/rootfs" | wc -l) entries, diffID $diff_id"

declare -A cmd_of=(
    [hutch]="$driver layer $blob $out/hutch $media_type"
    [hutch-image]="$driver image $layout $out/hutch-store"
    [umoci-raw]="umoci raw unpack --image $layout:bench $out/umoci-raw"
    [umoci]="umoci unpack --image $layout:bench $out/umoci-bundle"
    [tar]="tar -xzf $blob -C $out/tar"
)
declare -A label_of=(
    [hutch]="hutch: unpack_layer (layer blob -> directory, diffID)"
    [hutch-image]="hutch: load -i LAYOUT + layer store (what pull does after the download)"
    [umoci-raw]="umoci raw unpack"
    [umoci]="umoci unpack (bundle: rootfs, config.json, mtree)"
    [tar]="tar -xzf"
)
# Every run starts from nothing: the outputs of earlier runs removed, tar's directory made, and
# their dirty pages written back, so that no run pays for an earlier one's writeback.
prepare="sh -c 'rm -rf $out/* && mkdir $out/tar && sync'"

echo "== smoke runs"
entries=()   # "label<TAB>command"
for name in hutch hutch-image umoci-raw umoci tar; do
    rm -rf "${out:?}"/* && mkdir "$out/tar"
    if err=$(${cmd_of[$name]} 2>&1); then
        echo "   ${label_of[$name]}: ok"
        entries+=("${label_of[$name]}"$'\t'"${cmd_of[$name]}")
    else
        echo "   skipping ${label_of[$name]}: its smoke run failed: ${cmd_of[$name]}"
        echo "$err" | tail -5 | sed 's/^/     | /'
        continue
    fi
    case $name in
        hutch)
            [[ $err == "$diff_id" ]] || { echo "$me: hutch's diffID $err is not the layer's $diff_id" >&2; exit 1; }
            mv "$out/hutch" "$out/hutch-tree" ;;
        tar) mv "$out/tar" "$out/tar-tree" ;;
    esac
done
# hutch's tree must be tar's: every name with its type, mode, owner, size, link target and mtime
# (the root's own owner, mode and mtime are the caller's in hutch: unpack.h).
listing() { (cd "$1" && find . -mindepth 1 -printf '%p %y %m %U:%G %s %l %T@\n' | LC_ALL=C sort); }
if [[ -d $out/hutch-tree && -d $out/tar-tree ]]; then
    if ! diff <(listing "$out/hutch-tree") <(listing "$out/tar-tree") >"$tmp/tree.diff"; then
        echo "$me: hutch's tree differs from tar's:" >&2
        head -20 "$tmp/tree.diff" >&2
        exit 1
    fi
    echo "   hutch's tree and tar's: the same names, types, modes, owners, sizes, targets, mtimes"
fi
rm -rf "${out:?}"/*

mkdir -p "$out_dir"
echo
echo "== unpack: --prepare (remove the outputs, sync), --warmup $warmup, $runs runs of each entry in $rounds rounds"
measure unpack "$runs" "$warmup" --prepare "$prepare"

python3 - "$tmp/unpack.json" "$out_dir/results-unpack.md" "$load" "$unpack_fs" "$(stat -c %s "$blob")" "$tar_size" \
    "$(find "$key/rootfs" | wc -l)" "$runs" "$rounds" "$warmup" "${label_of[hutch]}" "${label_of[tar]}" \
    "${label_of[umoci-raw]}" <<'PY'
import json, sys, subprocess, platform, datetime
(path, out, load, fs, gz, tar_size, entries, runs, rounds, warmup,
 hutch, tar, umoci_raw) = sys.argv[1:]
results = {r["command"]: r for r in json.load(open(path))["results"]}
table = open(out).read()
def version(cmd):
    try: return subprocess.run(cmd, capture_output=True, text=True).stdout.splitlines()[0]
    except Exception: return "?"
where = {"ext4": "a new ext4 with a journal (mkfs.ext4 defaults) on a loop device", "tmpfs": "a tmpfs"}[fs]
lines = [
    f"# Layer unpack benchmark results ({datetime.date.today()}, `bench/unpack.sh`)",
    "",
    f"Host: {platform.node()}, kernel {platform.release()}, "
    f"{subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} CPUs; load average {load} before the run; "
    f"{version(['umoci', '--version'])}; {version(['tar', '--version'])}; {version(['hyperfine', '--version'])}.",
    f"The layer: a Debian rootfs (debootstrap --variant=minbase), {entries} entries, {int(tar_size) / 1e6:.1f} MB of tar, "
    f"{int(gz) / 1e6:.1f} MB gzip. Every entry unpacks into {where}, its outputs removed and synced before each run; "
    f"{rounds} rounds with the order rotated, {runs} runs of each entry in all, --warmup {warmup} per round. Times in ms.",
    "",
    table.rstrip(),
    "",
]
for name, label in (("tar", tar), ("umoci raw unpack", umoci_raw)):
    if hutch in results and label in results:
        ratio = results[hutch]["median"] / results[label]["median"]
        lines.append(f"- hutch / {name} (medians): **{ratio:.2f} x**")
text = "\n".join(lines) + "\n"
open(out, "w").write(text)
print(text)
PY
echo "results: $out_dir/results-unpack.md"
