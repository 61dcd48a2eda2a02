#!/usr/bin/env bash
# Pull benchmark: `hutch pull` against `podman pull` of one image from Debian's docker-registry on
# 127.0.0.1: a debootstrapped Debian rootfs (minbase) as one gzip layer, the layout bench/unpack.sh
# unpacks (bench/lib.sh's debian_layout), pushed once with skopeo. Every pull starts from an empty
# store on a new ext4 (a journal, mkfs.ext4's defaults) on a loop device; the entries side by side
# in one hyperfine run with the order rotated from round to round, and, for scale, the download
# alone (curl of the layer blob to /dev/null). See bench/README.md ("Pulling an image").
#
# Usage: bench/pull.sh   (as root, after `make build`)
# Environment: HUTCH (default build/hutch), HUTCH_BASELINE (another hutch binary, timed beside it:
#              a build of main, for before/after), RUNS (12 of each entry), WARMUP (1, per round),
#              ROUNDS (3), BENCH_OUT (where results-pull.md goes; default bench/), BENCH_CACHE
#              (/var/cache/hutch-bench), SUITE (bookworm), MIRROR (http://deb.debian.org/debian).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
hutch_cmd=${HUTCH:-$repo/build/hutch}
baseline=${HUTCH_BASELINE:-}
runs=${RUNS:-12}
warmup=${WARMUP:-1}
rounds=${ROUNDS:-3}
out_dir=${BENCH_OUT:-$repo/bench}
cache=${BENCH_CACHE:-/var/cache/hutch-bench}
suite=${SUITE:-bookworm}
mirror=${MIRROR:-http://deb.debian.org/debian}
no_crun_namespace=1   # no crun here: every entry runs in the host's mounts

source "$repo/bench/lib.sh"
source "$repo/bench/images.sh"
for tool in podman skopeo docker-registry curl debootstrap mkfs.ext4; do
    command -v "$tool" >/dev/null || { echo "$me: $tool is missing: run scripts/setup.sh" >&2; exit 1; }
done
for binary in "$hutch_cmd" ${baseline:+"$baseline"}; do
    [[ -x $binary ]] || { echo "$me: $binary is missing: build it (make build)" >&2; exit 1; }
done

key=$cache/debian-$suite-minbase-$(dpkg --print-architecture)
debian_layout "$key"
layer_digest=$(python3 - "$key/layout" <<'PY'
import json, sys
layout = sys.argv[1]
manifest_digest = json.load(open(f"{layout}/index.json"))["manifests"][0]["digest"]
print(json.load(open(f"{layout}/blobs/sha256/{manifest_digest.split(':')[1]}"))["layers"][0]["digest"])
PY
)

# The registry: its storage in $tmp, on a free loopback port; killed by pull_cleanup.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
registry=127.0.0.1:$port
image=$registry/bench/debian:latest
mkdir -p "$tmp/registry"
printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' \
    "$tmp/registry/data" "$registry" >"$tmp/registry/config.yml"
docker-registry serve "$tmp/registry/config.yml" >"$tmp/registry/log" 2>&1 &
registry_pid=$!
out=$tmp/out
podman_cmd=(podman --root "$out/podman" --runroot "$tmp/podman-run" --tmpdir "$tmp/podman-tmp"
    --storage-driver overlay --cgroup-manager cgroupfs --events-backend file)

# The registry, podman's store (and any mount it left), then lib.sh's cleanup (the scratch ext4, $tmp).
pull_cleanup() {
    local rc=$?
    kill "$registry_pid" 2>/dev/null || true
    wait "$registry_pid" 2>/dev/null || true
    unmount_under "$out" "$tmp/podman-run"
    set +e   # so that the status below reaches lib.sh's cleanup instead of ending the shell
    (exit "$rc")
    cleanup
}
trap pull_cleanup EXIT

for _ in $(seq 150); do
    curl -sf -o /dev/null "http://$registry/v2/" && break
    sleep 0.1
done
curl -sf -o /dev/null "http://$registry/v2/" || { echo "$me: the registry did not start:" >&2; cat "$tmp/registry/log" >&2; exit 1; }
echo "== the image: $key/layout pushed to $image"
skopeo copy --quiet --dest-tls-verify=false "oci:$key/layout:bench" "docker://$image"

# As bench/unpack.sh: not this VM's own disk, where an inode freed in the last 30 s is not reused
# and every file the next run makes scans past them.
mkdir -p "$out"
scratch_mounts+=("$out")
truncate -s 4G "$tmp/pull.img"
mkfs.ext4 -q -F "$tmp/pull.img"
mount -o loop "$tmp/pull.img" "$out"

declare -A cmd_of=(
    [hutch]="$hutch_cmd --storage-root $out/hutch --runroot $tmp/hutch-run pull $image"
    [baseline]="$baseline --storage-root $out/baseline --runroot $tmp/baseline-run pull $image"
    [podman]="${podman_cmd[*]} pull -q --tls-verify=false $image"
    [curl]="curl -sf -o /dev/null http://$registry/v2/bench/debian/blobs/$layer_digest"
)
declare -A label_of=(
    [hutch]="hutch pull"
    [baseline]="hutch pull (HUTCH_BASELINE)"
    [podman]="podman pull"
    [curl]="curl of the layer blob (the download alone)"
)
# Every run starts from nothing: every store removed, and their dirty pages written back, so that
# no run pays for an earlier one's writeback.
prepare="sh -c 'rm -rf $out/* && sync'"

echo "== smoke runs"
entries=()   # "label<TAB>command"
names=(hutch)
if [[ -n $baseline ]]; then names+=(baseline); fi
names+=(podman curl)
for name in "${names[@]}"; do
    rm -rf "${out:?}"/*
    if err=$(${cmd_of[$name]} 2>&1 </dev/null); then
        echo "   ${label_of[$name]}: ok"
        entries+=("${label_of[$name]}"$'\t'"${cmd_of[$name]}")
    else
        echo "   skipping ${label_of[$name]}: its smoke run failed: ${cmd_of[$name]}"
        echo "$err" | tail -5 | sed 's/^/     | /'
    fi
    if [[ $name == hutch && -d $out/hutch/layers ]]; then
        # The pull leaves the layer unpacked: one layer directory, no temporary one.
        layers=$(find "$out/hutch/layers" -mindepth 1 -maxdepth 1 -printf '%f ')
        [[ $layers =~ ^[0-9a-f]{64}\ $ ]] || { echo "$me: hutch pull left layers/ as: $layers" >&2; exit 1; }
    fi
done
rm -rf "${out:?}"/*
[[ ${#entries[@]} -gt 0 ]] || { echo "$me: no entry passed its smoke run" >&2; exit 1; }

mkdir -p "$out_dir"
echo
echo "== pull: --prepare (remove the stores, sync), --warmup $warmup, $runs runs of each entry in $rounds rounds"
measure pull "$runs" "$warmup" --prepare "$prepare" >/dev/null

blob=$key/layout/blobs/sha256/${layer_digest#sha256:}
table=$(cat "$out_dir/results-pull.md")
{
    echo "# Pull benchmark results ($(date +%F), \`bench/pull.sh\`)"
    echo
    echo "Host: $(uname -n), kernel $(uname -r), $(nproc) CPUs; $(podman --version); $(hyperfine --version);" \
        "load average $load before the run."
    echo "Image: a Debian rootfs (debootstrap --variant=minbase, $suite) as one gzip layer of" \
        "$(stat -c %s "$blob") bytes ($(gzip -dc "$blob" | wc -c) bytes of tar), served by docker-registry on 127.0.0.1."
    echo "Every pull starts from an empty store on a new ext4 on a loop device (removed and synced by"
    echo "--prepare); $rounds rounds with the order rotated, $runs runs of each entry in all, --warmup $warmup per round; times in ms."
    echo
    echo "$table"
    echo
    echo "Entries (\$T: the temporary directory, \$R: the registry):"
    echo
    for entry in "${entries[@]}"; do
        echo "- ${entry%%$'\t'*}: \`$(echo "${entry#*$'\t'}" | sed "s|$tmp|\$T|g; s|$registry|\$R|g; s|$repo/||g")\`"
    done
} >"$out_dir/results-pull.md"
cat "$out_dir/results-pull.md"
echo "results: $out_dir/results-pull.md"
