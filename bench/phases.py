#!/usr/bin/env python3
"""Where one `hutch-oci run` spends its time, phase by phase.

Runs the bundle N times with `--debug --log`: every debug line carries the monotonic clock, the
same in hutch's process and in the container's, so the gap between two lines is the time the
later phase took. Prints the median of each gap, in ms.

Usage: bench/phases.py HUTCH_OCI BUNDLE [RUNS [STATE_PARENT]]   (as root)
STATE_PARENT: where the state root is made (default: the system's temporary directory);
bench/run.sh passes its tmpfs.
"""
import os
import re
import statistics
import subprocess
import sys
import tempfile


def runs_of(log_text):
    runs, current = [], []
    for line in log_text.splitlines():
        m = re.search(r'msg="(.*) \[t=([0-9.]+) ms', line)
        if not m:
            continue
        if m.group(1).startswith("hutch-oci: flags parsed") and current:
            runs.append(current)
            current = []
        current.append((m.group(1), float(m.group(2))))
    if current:
        runs.append(current)
    return runs


def main():
    hutch, bundle = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    parent = sys.argv[4] if len(sys.argv) > 4 else None
    with tempfile.TemporaryDirectory(prefix="hutch-phases-", dir=parent) as tmp:
        log = os.path.join(tmp, "log")
        for _ in range(count):
            subprocess.run([hutch, "--root", os.path.join(tmp, "state"), "--debug", "--log", log,
                            "run", "--bundle", bundle, "phases"], check=True)
        with open(log) as f:
            runs = runs_of(f.read())
    gaps, order = {}, []
    for run in runs:
        for (_, before), (phase, at) in zip(run, run[1:]):
            if phase not in gaps:
                order.append(phase)
            gaps.setdefault(phase, []).append(at - before)
    print(f"| phase (ends at this debug line) | median ms over {len(runs)} runs |")
    print("|---|---|")
    for phase in order:
        print(f"| {phase} | {statistics.median(gaps[phase]):.3f} |")
    totals = [run[-1][1] - run[0][1] for run in runs]
    print(f"| **from flags parsed to deleted** | **{statistics.median(totals):.3f}** |")


if __name__ == "__main__":
    main()
