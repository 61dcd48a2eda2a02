#!/usr/bin/env python3
"""Where one `hutch-oci run` spends its time, event by event.

Runs the bundle N times with `--debug --log`: every debug line carries the monotonic clock, the
same in hutch's process and in the container's, so each line says when, after the flags were
parsed, that step was reached. Prints the median of that time per line, in order. Lines of the
parent ("launch:", "run:") and of the container's process ("child:") interleave, because the two
run at once on two CPUs; the gap between two lines of the same process is what its step took (the container's
process is counted from "launch: cloned").

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


def steps_reached(log_text):
    """Per debug line, the times (ms after "flags parsed") at which the runs in the log reached it,
    and how many runs there were."""
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
    since_start = {}
    for run in runs:
        for step, at in run:
            since_start.setdefault(step, []).append(at - run[0][1])
    return since_start, len(runs)


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
            since_start, run_count = steps_reached(f.read())
    medians = {step: statistics.median(times) for step, times in since_start.items()}
    # The previous line's median, per process: the container's process starts at the clone.
    last_of = {"child": medians.get("launch: cloned", 0.0)}
    print(f"| step reached (debug line) | ms after flags parsed, median of {run_count} runs "
          "| ms since this process's previous line |")
    print("|---|---|---|")
    for step in sorted(medians, key=medians.get):
        process = "child" if step.startswith("child:") else "hutch-oci"
        gap = medians[step] - last_of.get(process, 0.0)
        last_of[process] = medians[step]
        print(f"| {step} | {medians[step]:.3f} | {gap:.3f} |")


if __name__ == "__main__":
    main()
