#!/usr/bin/env python3
"""Which of two (or more) hutch-oci builds starts a container faster: interleaved runs.

This VM's speed drifts by 10-30 % from one minute to the next, so two builds timed one after the
other differ by more than most changes do. Here every round runs each build once, in a shuffled
order, so the drift falls on all of them alike. Prints the median wall time of `run` per build,
with the quartiles and the minimum; with --phases, also the median time at which each of hutch's
debug lines is reached (as bench/phases.py), per build, side by side.

Usage: bench/compare.py [--runs N] [--phases] [--state-parent DIR] BUNDLE HUTCH_OCI...   (as root)
For example, with a copy of the build before a change:
    cp build/hutch-oci /tmp/hutch-before; (change, make build)
    bench/compare.py /tmp/bundle /tmp/hutch-before build/hutch-oci
"""
import argparse
import os
import random
import statistics
import subprocess
import tempfile
import time

from phases import steps_reached  # bench/phases.py, beside this script


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--phases", action="store_true", help="also time hutch's steps (--debug)")
    parser.add_argument("--state-parent", default=None, help="where the state roots go")
    parser.add_argument("bundle")
    parser.add_argument("builds", nargs="+")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hutch-compare-", dir=args.state_parent) as tmp:
        def command(i):
            cmd = [args.builds[i], "--root", f"{tmp}/state{i}"]
            if args.phases:
                cmd += ["--debug", "--log", f"{tmp}/log{i}"]
            return cmd + ["run", "--bundle", args.bundle, f"compare{i}"]

        wall = [[] for _ in args.builds]
        for i in range(len(args.builds)):  # warm-up, not counted
            for _ in range(3):
                subprocess.run(command(i), check=True)
            if args.phases:
                os.unlink(f"{tmp}/log{i}")
        for _ in range(args.runs):
            order = list(range(len(args.builds)))
            random.shuffle(order)
            for i in order:
                start = time.perf_counter()
                subprocess.run(command(i), check=True, stdin=subprocess.DEVNULL)
                wall[i].append((time.perf_counter() - start) * 1000)
        for i, build in enumerate(args.builds):
            q = statistics.quantiles(wall[i], n=4)
            print(f"{q[1]:6.2f} ms (quartiles {q[0]:.2f}-{q[2]:.2f}, min {min(wall[i]):.2f})  {build}")
        if args.phases:
            steps = []
            for i in range(len(args.builds)):
                with open(f"{tmp}/log{i}") as f:
                    steps.append(steps_reached(f.read())[0])
            order = sorted(steps[0], key=lambda s: statistics.median(steps[0][s]))
            print("\nms after flags parsed, median:")
            for step in order:
                cells = [f"{statistics.median(s[step]):6.3f}" if step in s else "     -" for s in steps]
                print(f"  {step[:40]:40} " + "  ".join(cells))


if __name__ == "__main__":
    main()
