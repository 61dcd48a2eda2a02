// The sync channel between hutch and the container's process (runtime/sync_channel.h): a message
// of any length arrives whole with its fds, and a packet cut short is an error, never half a text.
#include "runtime/sync_channel.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

using hutch::runtime::SyncChannel;
using hutch::runtime::SyncMessage;

TEST_CASE("a message larger than the socket's buffers arrives whole, with its fds", "[sync]") {
    auto pair = SyncChannel::make_pair();
    REQUIRE(pair);
    auto& [parent, child] = *pair;
    // 1 MiB of varied bytes, so that a lost or repeated packet shows.
    std::string text;
    for (int i = 0; text.size() < (1 << 20); ++i) text += std::to_string(i) + ",";
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    // Sent by another process: the packets outnumber what the socket queues before it is read.
    pid_t sender = ::fork();
    REQUIRE(sender >= 0);
    if (sender == 0) {
        bool sent = child.send(SyncMessage::hooks_done, text, fds).has_value() &&
                    child.send(SyncMessage::created).has_value();
        _exit(sent ? 0 : 1);
    }
    child.close();
    auto big = parent.receive();
    auto next = parent.receive();
    int status = -1;
    ::waitpid(sender, &status, 0);
    CHECK(status == 0);
    REQUIRE(big);
    CHECK(big->type == SyncMessage::hooks_done);
    CHECK(big->text.size() == text.size());
    CHECK(big->text == text);
    REQUIRE(big->fds.size() == 2);
    // The pipe came through: what is written at one end is read at the other.
    CHECK(::write(big->fds[1].get(), "x", 1) == 1);
    char c = 0;
    CHECK(::read(fds[0], &c, 1) == 1);
    CHECK(c == 'x');
    REQUIRE(next);
    CHECK(next->type == SyncMessage::created);
    CHECK(next->text.empty());
    CHECK(next->fds.empty());
    ::close(fds[0]);
    ::close(fds[1]);
}

TEST_CASE("a packet longer than the channel reads is an error, not half a message", "[sync]") {
    auto pair = SyncChannel::make_pair();
    REQUIRE(pair);
    auto& [parent, child] = *pair;
    // One packet of 64 KiB, as a sender that does not split long texts would write it.
    std::string packet(64 * 1024, 'a');
    packet[0] = static_cast<char>(SyncMessage::hooks_done);
    REQUIRE(::send(child.fd(), packet.data(), packet.size(), 0) == static_cast<ssize_t>(packet.size()));
    auto r = parent.receive();
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("cut short") != std::string::npos);
}

// The child fails and exits while the parent tells it something: the parent must read the
// child's error, not ECONNRESET (a message of its own left unread) nor EPIPE (a send too late).
TEST_CASE("a child that failed and went is heard, whatever the parent sent it meanwhile", "[sync]") {
    auto pair = SyncChannel::make_pair();
    REQUIRE(pair);
    auto& [parent, child] = *pair;
    REQUIRE(child.send(SyncMessage::error, "process.cwd: /x is outside the container's root"));
    REQUIRE(parent.send(SyncMessage::start));  // queued, never read
    child.close();
    auto heard = parent.receive();
    REQUIRE(heard);
    CHECK(heard->type == SyncMessage::error);
    CHECK(heard->text == "process.cwd: /x is outside the container's root");

    auto again = SyncChannel::make_pair();
    REQUIRE(again);
    auto& [parent2, child2] = *again;
    REQUIRE(child2.send(SyncMessage::error, "exec: no such file"));
    child2.close();
    auto late = parent2.send(SyncMessage::start);
    REQUIRE_FALSE(late);
    CHECK(parent2.explain(late.error()).message == "exec: no such file");
}
