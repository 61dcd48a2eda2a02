# hutch's entry points. `make check` is the test command (CI runs it through .ci/run);
# `make demo` shows a container; `make bench` compares hutch-oci with runc and crun, `make
# bench-unpack` hutch's layer unpack with umoci and tar, `make bench-pull` hutch pull with podman pull,
# `make bench-vm-start` the builtin VMM's start of a microVM with QEMU's, `make bench-vm-share` the
# host memory of 10 microVMs of one image with and without virtio-pmem.
# Every target that needs packages runs scripts/setup.sh first (fast and offline when all are there).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# Steps of one target run in the order written, even under `make -j`: cmake parallelises the build.
.NOTPARALLEL:

BUILD_TYPE ?= RelWithDebInfo
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
JOBS ?= $(shell nproc)

# Every C++ source in the tree: tracked ones, and new ones not yet added (but not ignored: build/).
SOURCES_CMD := { git ls-files -z --cached --others --exclude-standard -- '*.cpp' '*.h' 2>/dev/null \
    || find . \( -path ./build -o -path './build-*' -o -path ./.git \) -prune -o \( -name '*.cpp' -o -name '*.h' \) -print0; } \
    | while IFS= read -r -d '' f; do if [[ -e $$f ]]; then printf '%s\0' "$$f"; fi; done

.PHONY: all setup build install test asan format-check format check demo bench bench-images bench-unpack bench-pull bench-vm bench-vm-start bench-vm-share clean

all: build

setup:
	scripts/setup.sh

build:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
	cmake --build $(BUILD_DIR) -j$(JOBS)

# hutch-oci where podman's and containerd's configs (README.md) point; hutch-systemd, its helper
# for --systemd-cgroup, beside it (hutch-oci looks there first); hutch-agent, the microVM's PID 1,
# and hutch-vmm, the builtin VMM's process, beside hutch (hutch run --vm looks there).
PREFIX ?= /usr/local
install: build
	install -D -m 0755 $(BUILD_DIR)/hutch-oci $(DESTDIR)$(PREFIX)/bin/hutch-oci
	install -D -m 0755 $(BUILD_DIR)/hutch-systemd $(DESTDIR)$(PREFIX)/bin/hutch-systemd
	install -D -m 0755 $(BUILD_DIR)/hutch $(DESTDIR)$(PREFIX)/bin/hutch
	install -D -m 0755 $(BUILD_DIR)/hutch-agent $(DESTDIR)$(PREFIX)/bin/hutch-agent
	install -D -m 0755 $(BUILD_DIR)/hutch-vm-relay $(DESTDIR)$(PREFIX)/bin/hutch-vm-relay
	install -D -m 0755 $(BUILD_DIR)/hutch-vmm $(DESTDIR)$(PREFIX)/bin/hutch-vmm

# Unit tests need no root; integration tests run real containers and need root. A failed run ends
# with the failed assertions (scripts/test-failures.sh), so that they are in a log's last lines.
test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure || { scripts/test-failures.sh $(BUILD_DIR); exit 1; }

# The same build and tests with AddressSanitizer and UndefinedBehaviorSanitizer.
asan:
	cmake -S . -B $(ASAN_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DHUTCH_SANITIZE=ON
	cmake --build $(ASAN_DIR) -j$(JOBS)
	UBSAN_OPTIONS=print_stacktrace=1 ctest --test-dir $(ASAN_DIR) --output-on-failure \
	    || { scripts/test-failures.sh $(ASAN_DIR); exit 1; }

format-check:
	@echo "clang-format --dry-run --Werror on $$($(SOURCES_CMD) | tr -cd '\0' | wc -c) .cpp/.h files (make format fixes them)"
	@$(SOURCES_CMD) | xargs -0 -r clang-format --dry-run --Werror

format:
	$(SOURCES_CMD) | xargs -0 -r clang-format -i

check: setup format-check test asan
	@echo "make check: format, build, tests and sanitizer tests all passed"

demo: setup build
	examples/demo.sh

bench: setup build
	bench/run.sh
	bench/exec.sh

# The `hutch` command: `hutch run --rm` against `podman run --rm` of one image, and what twenty
# containers of one image share (inodes, page frames, PSS) against twenty copies of its rootfs.
bench-images: setup build
	bench/run-image.sh
	bench/share.sh

# The same benchmark on a pure cgroup v2 host: inside the VM test bed's guest (tests/vm).
bench-vm: setup build
	bench/vm.sh

# Unpacking a layer (a Debian rootfs, one gzip layer): hutch against umoci and `tar -xzf`.
bench-unpack: setup build
	bench/unpack.sh

# Pulling an image (the same Debian layer) from a docker-registry on 127.0.0.1: hutch against podman.
bench-pull: setup build
	bench/pull.sh

# Starting a microVM: the builtin VMM against qemu -M microvm, one freestanding guest, start to exit.
bench-vm-start: setup build
	bench/vm-start.sh

bench-vm-share: setup build
	bench/vm-share.sh

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR)
