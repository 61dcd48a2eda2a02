#!/usr/bin/env python3
"""Fails when a ctest test has no TIMEOUT: without one, a test that hangs holds `make check` (and CI)
for ctest's default of 1500 s, or for ever where there is none.

Usage: check_timeouts.py CTEST BUILD_DIR
"""
import json
import subprocess
import sys


def main():
    ctest, build_dir = sys.argv[1], sys.argv[2]
    listing = subprocess.run([ctest, "--test-dir", build_dir, "--show-only=json-v1"],
                             check=True, capture_output=True, text=True).stdout
    tests = json.loads(listing).get("tests", [])
    if not tests:
        print(f"no tests listed in {build_dir}")
        return 1
    # catch_discover_tests lists a binary that failed to build as one placeholder test, without
    # properties, which fails by itself ("..._NOT_BUILT..."): not a test that lacks a TIMEOUT.
    tests = [t for t in tests if "_NOT_BUILT" not in t["name"]]
    missing = [t["name"] for t in tests
               if not any(p["name"] == "TIMEOUT" and float(p["value"]) > 0 for p in t.get("properties", []))]
    for name in missing:
        print(f"no TIMEOUT: {name}")
    print(f"{len(tests) - len(missing)} of {len(tests)} tests have a TIMEOUT")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
