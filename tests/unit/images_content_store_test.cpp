// images/content_store.h: a blob is stored only when its size and digest are the expected ones,
// a refused ingest leaves nothing behind, and two processes ingesting one blob at once end with
// one good copy.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "base/file.h"
#include "images/content_store.h"
#include "store_dir.h"

using namespace hutch;
using namespace hutch::images;
using hutch::test::StoreDir;
namespace fs = std::filesystem;

namespace {

// Reads data in pieces of at most chunk bytes, pausing between them (to make ingests overlap).
BlobReader string_reader(std::string data, size_t chunk = 1 << 20,
                         std::chrono::milliseconds pause = std::chrono::milliseconds(0)) {
    auto offset = std::make_shared<size_t>(0);
    return [data = std::move(data), chunk, pause, offset](std::span<std::byte> buffer) -> ErrorOr<size_t> {
        size_t n = std::min({buffer.size(), chunk, data.size() - *offset});
        std::memcpy(buffer.data(), data.data() + *offset, n);
        *offset += n;
        if (n > 0 && pause.count() > 0) std::this_thread::sleep_for(pause);
        return n;
    };
}

Digest digest(std::string_view data) {
    auto d = digest_of(data);
    REQUIRE(d);
    return *d;
}

std::vector<std::string> names_in(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
    return names;
}

std::string blob_text(ContentStore& store, const Digest& d) {
    auto fd = store.open_blob(d);
    REQUIRE(fd);
    auto text = read_all(fd->get());
    REQUIRE(text);
    return *text;
}

}  // namespace

TEST_CASE("content store: a blob is stored under its digest, opened read-only, and removed", "[images]") {
    StoreDir dir;
    auto store = ContentStore::open(dir.root());
    REQUIRE(store);
    std::string data = "hello, layer\n";
    auto d = digest(data);
    REQUIRE(store->has(d) == false);
    REQUIRE(store->ingest(d, data.size(), string_reader(data, 3)));
    CHECK(store->has(d) == true);
    CHECK(fs::is_regular_file(dir.root() + "/blobs/sha256/" + d.hex));
    CHECK(blob_text(*store, d) == data);
    auto fd = store->open_blob(d);
    REQUIRE(fd);
    CHECK((fcntl(fd->get(), F_GETFL) & O_ACCMODE) == O_RDONLY);
    CHECK(names_in(dir.root() + "/ingest").empty());
    // Ingesting it again is no error and keeps the one copy.
    REQUIRE(store->ingest(d, data.size(), string_reader(data)));
    CHECK(names_in(dir.root() + "/blobs/sha256").size() == 1);
    REQUIRE(store->remove(d));
    CHECK(store->has(d) == false);
    CHECK_FALSE(store->remove(d));
}

TEST_CASE("content store: a wrong digest or a wrong size is refused and nothing is stored", "[images]") {
    StoreDir dir;
    auto store = ContentStore::open(dir.root());
    REQUIRE(store);
    std::string data = "the real content";
    auto claimed = digest("other content");

    auto check_refused = [&](const ErrorOr<void>& result, const std::string& expected_text) {
        REQUIRE_FALSE(result);
        INFO(result.error().message);
        CHECK(result.error().message.find(expected_text) != std::string::npos);
        CHECK(result.error().message.find('\n') == std::string::npos);
        CHECK(names_in(dir.root() + "/ingest").empty());
        CHECK(names_in(dir.root() + "/blobs/sha256").empty());
    };
    SECTION("wrong digest") {
        check_refused(store->ingest(claimed, data.size(), string_reader(data)), "content has digest");
        CHECK(store->has(claimed) == false);
    }
    SECTION("fewer bytes than expected") {
        check_refused(store->ingest(digest(data), data.size() + 1, string_reader(data)), "bytes, expected");
    }
    SECTION("more bytes than expected") {
        check_refused(store->ingest(digest(data), data.size() - 1, string_reader(data)),
                      "more than the expected");
    }
    SECTION("the reader fails") {
        BlobReader broken = [](std::span<std::byte>) -> ErrorOr<size_t> { return fail("connection reset"); };
        check_refused(store->ingest(digest(data), data.size(), broken), "connection reset");
    }
}

TEST_CASE("content store: two processes ingesting one blob at once end with one good blob", "[images]") {
    StoreDir dir;
    REQUIRE(ContentStore::open(dir.root()));
    std::string data(256 * 1024, 'x');
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 23);
    auto d = digest(data);

    std::vector<pid_t> children;
    for (int i = 0; i < 2; ++i) {
        pid_t pid = fork();
        REQUIRE(pid != -1);
        if (pid == 0) {
            // In the child: never return into Catch2; report by exit status only.
            auto store = ContentStore::open(dir.root());
            bool ok = store && store->ingest(d, data.size(),
                                             string_reader(data, 16 * 1024, std::chrono::milliseconds(2)));
            _exit(ok ? 0 : 1);
        }
        children.push_back(pid);
    }
    for (pid_t pid : children) {
        int status = 0;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 0);
    }
    auto store = ContentStore::open(dir.root());
    REQUIRE(store);
    CHECK(names_in(dir.root() + "/blobs/sha256") == std::vector<std::string>{d.hex});
    CHECK(names_in(dir.root() + "/ingest").empty());
    CHECK(blob_text(*store, d) == data);
}
