#!/usr/bin/env python3
"""What bench/share.sh's processes share, measured from /proc (as root), written as markdown.

For each file that `sleep` maps from the image (the program, the C library, the loader):
- the device and inode /proc/PID/maps shows for it in every container (overlayfs reports the
  lower file's inode number, on a device of its own per mount);
- the physical pages behind it: /proc/PID/pagemap gives the page frame of every resident page of
  the mapping, and the same file in the layer store, mapped here, gives the frames of its page
  cache. One frame per page of the file across all containers, equal to the layer file's, is
  "one inode per lower file" where it matters: one copy in memory.
Then the sum of /proc/PID/smaps_rollup over the processes, against COUNT x the Rss of one.

Usage: share.py --out FILE --layer-diff DIR --containers PIDS --monitors PIDS [--copies PIDS]
                [--note TEXT]... (PIDS: space-separated)
"""
import argparse
import ctypes
import datetime
import mmap
import os
import platform
import struct

PAGE = os.sysconf("SC_PAGE_SIZE")
PFN_MASK = (1 << 55) - 1
PRESENT, FILE_PAGE = 1 << 63, 1 << 61

# By their real paths: an absolute symlink such as /lib64/ld-linux-x86-64.so.2 would lead out of
# the layer's directory when followed here.
FILES = ["usr/bin/sleep", "usr/lib/x86_64-linux-gnu/libc.so.6", "usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"]
if platform.machine() != "x86_64":
    FILES = FILES[:1]


def mappings(pid, path):
    """(start, end, file offset, "dev:ino") of each mapping of a file named like path."""
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            parts = line.split()
            if len(parts) >= 6 and os.path.basename(parts[5]) == os.path.basename(path):
                start, end = (int(x, 16) for x in parts[0].split("-"))
                yield start, end, int(parts[2], 16), f"{parts[3]}:{parts[4]}"


def frames(pid, ranges):
    """file offset -> page frame of each resident page cache page in ranges ((start, end, offset))."""
    pages = {}
    with open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for start, end, offset in ranges:
            pagemap.seek(start // PAGE * 8)
            data = pagemap.read((end - start) // PAGE * 8)
            for i, (entry,) in enumerate(struct.iter_unpack("<Q", data)):
                # A written private page (relocations) is anonymous: not the file's any more.
                if entry & PRESENT and entry & FILE_PAGE:
                    pages[offset + i * PAGE] = entry & PFN_MASK
    return pages


def process_frames(pid, path):
    maps = list(mappings(pid, path))
    if not maps:
        raise SystemExit(f"share.py: process {pid} maps no {path}")
    return frames(pid, [(s, e, o) for s, e, o, _ in maps]), {d for *_, d in maps}


def layer_frames(path, offsets):
    """The page frames of the layer file's page cache at offsets: the file mapped here, each page touched."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        # ACCESS_COPY (a private mapping) because ctypes can only take the address of a writable
        # buffer; reading maps the page cache's page all the same.
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    buf = (ctypes.c_char * size).from_buffer(m)
    start = ctypes.addressof(buf)
    for off in offsets:
        buf[off]
    result = frames(os.getpid(), [(start, start + (size + PAGE - 1) // PAGE * PAGE, 0)])
    del buf
    m.close()
    return {off: result.get(off) for off in offsets}


def rollup(pid):
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1])
    return fields


def memory(pids):
    each = [rollup(pid) for pid in pids]
    return {k: sum(r.get(k, 0) for r in each) for k in ("Rss", "Pss", "Pss_Anon", "Pss_File")}, each[0]["Rss"]


def sharing(pids, path, layer_dir=None):
    """A table row: how many distinct inodes and page frames the processes map for path."""
    per_pid = [process_frames(pid, path) for pid in pids]
    inodes = set().union(*(d for _, d in per_pid))
    common = sorted(set.intersection(*(set(p) for p, _ in per_pid)))
    distinct = max((len({p[off] for p, _ in per_pid}) for off in common), default=0)
    row = {"inodes": inodes, "pages": len(common), "frames_per_page": distinct}
    if layer_dir:
        st = os.stat(os.path.join(layer_dir, path))
        row["layer"] = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        mine = layer_frames(os.path.join(layer_dir, path), common)
        row["same_as_layer"] = sum(1 for off in common if mine[off] == per_pid[0][0][off])
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--layer-diff", required=True)
    ap.add_argument("--containers", required=True)
    ap.add_argument("--monitors", required=True)
    ap.add_argument("--copies", default="")
    ap.add_argument("--note", action="append", default=[])
    args = ap.parse_args()
    containers, monitors, copies = ([int(p) for p in s.split()] for s in (args.containers, args.monitors, args.copies))
    n = len(containers)

    lines = [f"# {n} containers of one image: what they share ({datetime.date.today()}, `bench/share.sh`)", ""]
    lines += args.note
    lines += ["", "## One inode per lower file, one copy in memory", "",
              f"Each file `sleep` maps from the image, in the {n} containers: the device:inode that `/proc/PID/maps` "
              "shows (overlayfs gives the lower file's inode number, on a device of its own per mount), and the "
              "physical pages behind the mappings (`/proc/PID/pagemap`: page frames of the resident page cache "
              "pages at the file offsets resident in every process), compared with the page cache of the file in "
              "the layer store (`layers/*/diff`, mapped by the script).",
              "", "| file | the layer's file (dev:ino) | inode numbers in the containers | overlay devices | "
              f"pages compared | frames per page across the {n} | same frames as the layer's file |",
              "|---|---|---|---|---|---|---|"]
    for path in FILES:
        r = sharing(containers, path, args.layer_diff)
        numbers = sorted({i.rsplit(":", 1)[1] for i in r["inodes"]})
        devices = {i.rsplit(":", 1)[0] for i in r["inodes"]}
        lines.append(f"| /{path} | {r['layer']} | {len(numbers)} ({', '.join(numbers)}) | {len(devices)} | "
                     f"{r['pages']} | {r['frames_per_page']} | {r['same_as_layer']} of {r['pages']} |")
    if copies:
        lines += ["", f"The peer, {len(copies)} full copies of the rootfs: " + "; ".join(
            f"/{path}: {len(r['inodes'])} inodes, {r['frames_per_page']} frames per page ({r['pages']} pages)"
            for path in FILES for r in [sharing(copies, path)]) + "."]

    def mib(kb):
        return f"{kb / 1024:.1f}"

    def row(label, mem, one):
        return (f"| {label} | {mem['Pss']} ({mib(mem['Pss'])}) | {mem['Pss_File']} | {mem['Pss_Anon']} | "
                f"{one} | {n * one} ({mib(n * one)}) | {mem['Pss'] / (n * one):.2f} |")

    lines += ["", "## Memory", "",
              f"Sums over the {n} processes of `/proc/PID/smaps_rollup`, KiB (MiB). \"{n} x Rss\" is what {n} "
              "processes that shared nothing would cost: the resident set of one, all of it its own, times "
              f"{n}.", "",
              f"| | summed Pss | Pss_File | Pss_Anon | Rss of one | {n} x Rss of one | Pss / ({n} x Rss) |",
              "|---|---|---|---|---|---|---|"]
    hutch_mem, hutch_one = memory(containers)
    lines.append(row(f"{n} hutch containers of one image", hutch_mem, hutch_one))
    if copies:
        copy_mem, copy_one = memory(copies)
        lines.append(row(f"{len(copies)} full copies of the rootfs", copy_mem, copy_one))
    monitor_mem, _ = memory(monitors)
    lines += ["", f"hutch's monitors (one `hutch` process per detached container, outside it): summed Pss "
              f"{monitor_mem['Pss']} KiB ({mib(monitor_mem['Pss'])} MiB), {monitor_mem['Pss'] // n} KiB each."]
    text = "\n".join(lines) + "\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
