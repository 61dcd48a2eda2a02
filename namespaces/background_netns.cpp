#include "namespaces/background_netns.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "base/cpu_affinity.h"

namespace hutch::namespaces {
namespace {

void futex_wait(std::atomic<int>& word, int expected) {
    ::syscall(SYS_futex, reinterpret_cast<int*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}

void futex_wake(std::atomic<int>& word) {
    ::syscall(SYS_futex, reinterpret_cast<int*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

void set_and_wake(std::atomic<int>& word) {
    word.store(1);
    futex_wake(word);
}

void wait_until_set(std::atomic<int>& word) {
    while (word.load() == 0) futex_wait(word, 0);
}

}  // namespace

bool parent_makes_netns(const spec::Spec& spec) {
    if (!spec.linux_) return false;
    const auto& namespaces = spec.linux_->namespaces;
    auto is = [](spec::NamespaceType type) {
        return [type](const spec::Namespace& ns) { return ns.type == type; };
    };
    auto net = std::ranges::find_if(namespaces, is(spec::NamespaceType::network));
    return net != namespaces.end() && net->path.empty() &&
           std::ranges::none_of(namespaces, is(spec::NamespaceType::user));
}

std::unique_ptr<BackgroundNetns> BackgroundNetns::start() {
    std::unique_ptr<BackgroundNetns> netns(new BackgroundNetns());
    int err = ::pthread_create(&netns->thread_, nullptr, &BackgroundNetns::run, netns.get());
    if (err != 0) {  // take() reports it
        netns->error_ = err;
        netns->made_.store(1);
        return netns;
    }
    netns->started_ = true;
    move_off_this_cpu(netns->thread_);
    // The container's process is a clone3() copy of this one, made while the helper lives. A copy
    // taken while the helper was still inside the thread library (or a sanitizer's thread start)
    // could inherit one of its locks held, forever. From entered_ on, the helper makes only raw
    // system calls until it is released, after the clone.
    wait_until_set(netns->entered_);
    return netns;
}

void* BackgroundNetns::run(void* self) {
    static_cast<BackgroundNetns*>(self)->make();
    return nullptr;
}

void BackgroundNetns::make() {
    set_and_wake(entered_);
    // unshare() moves only this thread into the new namespace; the fd keeps it alive after.
    if (::unshare(CLONE_NEWNET) == 0) fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    error_ = fd_ < 0 ? errno : 0;
    set_and_wake(made_);
    wait_until_set(release_);
}

void BackgroundNetns::finish() {
    if (!started_) return;
    set_and_wake(release_);
    ::pthread_join(thread_, nullptr);
    started_ = false;
}

ErrorOr<UniqueFd> BackgroundNetns::take() {
    wait_until_set(made_);
    // Let go, but joined only later: its exit would compete with the container's process now.
    set_and_wake(release_);
    if (fd_ < 0) return fail_errno("linux.namespaces.network: make a new network namespace", error_);
    return UniqueFd(std::exchange(fd_, -1));
}

BackgroundNetns::~BackgroundNetns() {
    finish();
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace hutch::namespaces
