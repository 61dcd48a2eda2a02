// A container's new network namespace, made on a helper thread off the start path.
//
// Making a network namespace costs 0.35-0.5 ms here (the kernel sets up every per-namespace
// protocol); clone3(CLONE_NEWNET) would spend it on the critical path, before the child can do
// anything. Instead a helper thread unshares one as soon as config.json is read, while hutch
// prepares and clones, and the child joins it with setns() before its first mount that shows the
// network namespace (sysfs). Only for namespaces that belong to hutch's own user namespace: one
// made together with a new user namespace must belong to that.
#pragma once

#include <pthread.h>

#include <atomic>
#include <memory>

#include "base/error.h"
#include "base/fd.h"
#include "spec/spec.h"

namespace hutch::namespaces {

// True when the spec asks for a new network namespace and involves no user namespace at all.
bool parent_makes_netns(const spec::Spec& spec);

class BackgroundNetns {
public:
    // Starts the helper on another CPU than the caller's; returns once it runs hutch's code (see
    // the .cpp for why that matters).
    static std::unique_ptr<BackgroundNetns> start();
    ~BackgroundNetns();
    BackgroundNetns(const BackgroundNetns&) = delete;
    BackgroundNetns& operator=(const BackgroundNetns&) = delete;

    // Waits until the namespace exists, lets the helper end (the destructor joins it), and returns
    // an fd on the namespace. Call it after the clone3() of the container's process, never before.
    ErrorOr<UniqueFd> take();

private:
    BackgroundNetns() = default;
    static void* run(void* self);
    void make();
    void finish();

    // A plain pthread, not std::thread: std::thread frees its state on the new thread, and that
    // first free there makes glibc set up a whole malloc arena for it (mmap and page faults).
    pthread_t thread_{};
    bool started_ = false;
    // Futex words: 0 until set.
    std::atomic<int> entered_{0};  // the helper runs make()
    std::atomic<int> made_{0};     // fd_ or error_ is set
    std::atomic<int> release_{0};  // the helper may return
    int fd_ = -1;
    int error_ = 0;
};

}  // namespace hutch::namespaces
