// Where `hutch run` runs an image: on this host, or in a microVM (run_vm.cpp). --vm[=always]
// asks for the microVM, --vm=never forbids it, and without --vm (auto) an image whose labels ask
// for more kernel than this host has (kernel_requirements.h) goes to the microVM, with a notice.
#pragma once

#include <string>

#include "base/error.h"
#include "cli/hutch/container_setup.h"
#include "cli/hutch/kernel_requirements.h"

namespace hutch::cli {

// run and create: the backend for flags.image (pulled first when it is not stored, as run does).
// Prints the one-line notice on stderr when auto chose the microVM; fails with one line when
// neither kernel can run the image, or --vm=never forbids the only one that can.
ErrorOr<Backend> choose_run_backend(const Storage& storage, const RunFlags& flags);

// The microVM's kernel, a vmlinux: --vm-kernel, else $HUTCH_VM_KERNEL.
ErrorOr<std::string> vm_kernel_path(const RunFlags& flags);

}  // namespace hutch::cli
