// A TCP relay on 127.0.0.1 in front of a server (a LocalRegistry), which holds back every answer
// after its first hold_after bytes until release(): a download that cannot end before the test
// says so, so that a test sees what a client does *during* a download without timing anything.
// Answers shorter than hold_after (manifests, configs) pass whole. It runs on threads of the test;
// the destructor releases, stops and joins them, passed or failed.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

#include "base/fd.h"

namespace hutch::test {

class GatedProxy {
public:
    // Listens on a free port; REQUIREs success.
    GatedProxy(int server_port, size_t hold_after);
    ~GatedProxy();
    GatedProxy(const GatedProxy&) = delete;
    GatedProxy& operator=(const GatedProxy&) = delete;

    // "127.0.0.1:PORT"
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    // True once an answer was held back at hold_after bytes.
    bool holding() const { return holding_; }
    // Lets every answer through from now on.
    void release() { released_ = true; }

private:
    void accept_loop();
    void relay(UniqueFd client);

    int server_port_;
    size_t hold_after_;
    int port_ = 0;
    UniqueFd listener_;
    std::atomic<bool> released_ = false;
    std::atomic<bool> holding_ = false;
    std::atomic<bool> stop_ = false;
    std::mutex mutex_;
    std::vector<std::thread> relays_;  // under mutex_
    std::thread acceptor_;
};

}  // namespace hutch::test
