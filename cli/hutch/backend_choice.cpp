// The automatic microVM fallback's I/O (backend_choice.h): the image's labels from the store, the
// kernels' facts, the notice. The deciding itself is kernel_requirements.cpp's.
#include "cli/hutch/backend_choice.h"

#include <cstdio>
#include <cstdlib>

#include "cli/hutch/kernel_facts.h"
#include "cli/hutch/verbs.h"
#include "images/content_store.h"
#include "images/stored_documents.h"

namespace hutch::cli {
namespace {

// The labels of the image's config. An image not stored is pulled, as set_up_container would
// pull it next; then it finds the image stored.
ErrorOr<std::map<std::string, std::string>> image_labels(const Storage& storage, const std::string& image) {
    auto manifest = TRY(stored_or_pulled(storage, image));
    auto content = TRY(images::ContentStore::open(storage.storage_root));
    auto parsed = TRY(images::load_manifest(content, manifest));
    return TRY(images::load_config(content, parsed)).config.labels;
}

ErrorOr<KernelRequirements> image_requirements(const Storage& storage, const std::string& image) {
    auto labels = TRY(image_labels(storage, image));
    return TRY_CTX(parse_kernel_requirements(labels), image);
}

// The host's config is read only for an image that names options: it costs an inflate.
KernelFacts host_facts(const KernelRequirements& needs) { return host_kernel_facts(!needs.options.empty()); }

}  // namespace

ErrorOr<Backend> choose_run_backend(const Storage& storage, const RunFlags& flags) {
    auto mode = TRY(parse_vm_mode(flags.vm));
    auto needs = TRY(image_requirements(storage, flags.image));
    auto host = [&] { return host_facts(needs); };
    auto guest = [&]() -> ErrorOr<KernelFacts> { return guest_kernel_facts(TRY(vm_kernel_path(flags))); };
    auto choice = TRY(choose_backend(mode, flags.image, needs, host, guest));
    if (!choice.notice.empty()) std::fprintf(stderr, "hutch: %s\n", choice.notice.c_str());
    return choice.backend;
}

ErrorOr<std::string> vm_kernel_path(const RunFlags& flags) {
    if (!flags.vm_kernel.empty()) return flags.vm_kernel;
    if (const char* kernel = std::getenv("HUTCH_VM_KERNEL"); kernel && *kernel) return std::string(kernel);
    return fail(
        "--vm needs the guest kernel's vmlinux: --vm-kernel PATH or HUTCH_VM_KERNEL "
        "(microvm/guest-kernel/build.sh builds one and prints its directory)");
}

}  // namespace hutch::cli
