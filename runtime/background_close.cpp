#include "runtime/background_close.h"

#include <unistd.h>

#include <cstdint>

#include "base/cpu_affinity.h"

namespace hutch::runtime {

void* BackgroundClose::run(void* fd) {
    ::close(static_cast<int>(reinterpret_cast<intptr_t>(fd)));
    return nullptr;
}

BackgroundClose::BackgroundClose(UniqueFd fd) {
    if (!fd) return;
    // A plain pthread that neither allocates nor frees: glibc gives it no malloc arena.
    void* arg = reinterpret_cast<void*>(static_cast<intptr_t>(fd.get()));
    if (::pthread_create(&thread_, nullptr, &BackgroundClose::run, arg) != 0) return;  // fd closes here
    started_ = true;
    fd.release();
    move_off_this_cpu(thread_);
}

BackgroundClose::~BackgroundClose() {
    if (started_) ::pthread_join(thread_, nullptr);
}

}  // namespace hutch::runtime
