#include "runtime/backend.h"

namespace hutch::runtime {

ErrorOr<const Backend*> backend_for(const spec::Spec& spec) {
    // A lookup in a map that is empty for most containers: nothing more on the linux path.
    auto it = spec.annotations.find(std::string(handler_annotation));
    if (it == spec.annotations.end()) return &linux_backend();
    if (it->second == microvm_backend().name()) return &microvm_backend();
    return fail("annotation " + std::string(handler_annotation) + "=" + it->second +
                ": unknown handler (hutch knows microvm)");
}

const Backend& backend_of(const ContainerState& state) {
    return state.backend == microvm_backend().name() ? microvm_backend() : linux_backend();
}

}  // namespace hutch::runtime
