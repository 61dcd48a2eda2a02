// The pure parts of the `hutch` command's containers: the log format, the size and CPU flags,
// users looked up in an image's passwd and group files, and the config.json written for a
// container, which must read back through the same parser as any bundle's.
#include <sys/mman.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "cli/hutch/container_log.h"
#include "cli/hutch/container_record.h"
#include "cli/hutch/container_setup.h"
#include "images/image_user.h"
#include "spec/container_config.h"
#include "spec/spec.h"
#include "store_dir.h"

using namespace hutch;

namespace {

struct Replayed {
    std::string out, err;
};

Replayed replay(std::string_view text, cli::LogReadOptions options = {}) {
    Replayed r;
    cli::replay_log(text, options, [&](std::string_view stream, std::string_view bytes) {
        (stream == "stderr" ? r.err : r.out).append(bytes);
    });
    return r;
}

std::string written_log(const std::function<void(cli::LogStreamWriter&, cli::LogStreamWriter&)>& write) {
    int fd = memfd_create("log", MFD_CLOEXEC);
    REQUIRE(fd >= 0);
    {
        cli::LogStreamWriter out(fd, "stdout"), err(fd, "stderr");
        write(out, err);
    }
    REQUIRE(lseek(fd, 0, SEEK_SET) == 0);
    auto text = read_all(fd);
    close(fd);
    REQUIRE(text);
    return *text;
}

}  // namespace

TEST_CASE("container log: lines go back to their streams, split writes and unfinished lines too",
          "[hutch-containers]") {
    std::string log = written_log([](auto& out, auto& err) {
        out.write("hel");
        err.write("warn\n");
        out.write("lo\nsecond\nunfin");
        out.finish();
        err.finish();
    });
    // One record per line: "TIMESTAMP STREAM F|P CONTENT".
    CHECK(std::count(log.begin(), log.end(), '\n') == 4);
    CHECK(log.find(" stderr F warn\n") != std::string::npos);
    CHECK(log.find(" stdout F hello\n") != std::string::npos);
    CHECK(log.find(" stdout P unfin\n") != std::string::npos);
    auto r = replay(log);
    CHECK(r.out == "hello\nsecond\nunfin");
    CHECK(r.err == "warn\n");
}

TEST_CASE("container log: --tail counts whole lines, a long line spans records", "[hutch-containers]") {
    std::string long_line(cli::LogStreamWriter::kMaxPartial + 10, 'x');
    std::string log = written_log([&](auto& out, auto&) {
        out.write("one\ntwo\n");
        out.write(long_line);  // held back until it outgrows kMaxPartial: a P record
        out.write("\nlast\n");
    });
    CHECK(log.find(" stdout P xxx") != std::string::npos);
    CHECK(replay(log, {.tail = 2}).out == long_line + "\nlast\n");
    CHECK(replay(log, {.tail = 1}).out == "last\n");
    CHECK(replay(log, {.tail = 0}).out.empty());
    CHECK(replay(log, {.tail = 10}).out == "one\ntwo\n" + long_line + "\nlast\n");
    auto stamped = replay(log, {.tail = 1, .timestamps = true}).out;
    CHECK(stamped.ends_with("Z last\n"));
}

TEST_CASE("container log: lines that are not records, and a record cut short, are skipped",
          "[hutch-containers]") {
    auto r = replay(
        "garbage\n2026-01-01T00:00:00Z stdin F no\n2026-01-01T00:00:00Z stdout X no\n"
        "2026-01-01T00:00:00Z stdout F \n2026-01-01T00:00:00Z stdout F yes\n2026-01-01T00:00:00Z stdout F "
        "cut");
    CHECK(r.out == "\nyes\n");
}

TEST_CASE("hutch flags: memory sizes and CPUs", "[hutch-containers]") {
    CHECK(cli::parse_memory_size("512m").value() == 512LL << 20);
    CHECK(cli::parse_memory_size("1g").value() == 1LL << 30);
    CHECK(cli::parse_memory_size("1.5G").value() == 3LL << 29);
    CHECK(cli::parse_memory_size("64kb").value() == 64LL << 10);
    CHECK(cli::parse_memory_size("4096").value() == 4096);
    for (const char* bad : {"", "lots", "-1m", "1x", "1mbb", "m", "99999999t", "nan", "infm"}) {
        INFO(bad);
        CHECK_FALSE(cli::parse_memory_size(bad));
    }
    CHECK(cli::parse_cpus("1.5").value() == 150000);
    CHECK(cli::parse_cpus("0.5").value() == 50000);
    CHECK(cli::parse_cpus("0.001").value() == 1000);  // the kernel's smallest quota
    for (const char* bad : {"", "0", "-1", "abc", "1.5x", "nan"}) {
        INFO(bad);
        CHECK_FALSE(cli::parse_cpus(bad));
    }
}

TEST_CASE("image user: names and numbers through passwd and group, supplementary groups",
          "[hutch-containers]") {
    const char* passwd =
        "root:x:0:0:root:/root:/bin/sh\n# comment\nbroken line\napp:x:1000:1000::/home/app:/bin/sh\n";
    const char* group = "root:x:0:\napp:x:1000:\nstaff:x:50:app,other\nwheel:x:10:root\n";
    auto app = images::resolve_image_user_from("app", passwd, group);
    REQUIRE(app);
    CHECK(app->uid == 1000);
    CHECK(app->gid == 1000);
    CHECK(app->additional_gids == std::vector<gid_t>{50});
    CHECK(app->home == "/home/app");
    auto by_number = images::resolve_image_user_from("1000:staff", passwd, group);
    REQUIRE(by_number);
    CHECK(by_number->uid == 1000);
    CHECK(by_number->gid == 50);
    auto unlisted = images::resolve_image_user_from("4242:4343", passwd, group);
    REQUIRE(unlisted);
    CHECK(unlisted->uid == 4242);
    CHECK(unlisted->gid == 4343);
    CHECK(unlisted->additional_gids.empty());
    CHECK(unlisted->home == "/");
    auto root = images::resolve_image_user_from("", passwd, group);
    REQUIRE(root);
    CHECK(root->uid == 0);
    CHECK_FALSE(images::resolve_image_user_from("nobody", passwd, group));
    CHECK_FALSE(images::resolve_image_user_from("app:nogroup", passwd, group));
    CHECK(images::resolve_image_user_from("nobody", passwd, group).error().message.find("nobody") !=
          std::string::npos);
}

TEST_CASE("container config: what hutch run writes reads back through config.json's parser",
          "[hutch-containers]") {
    spec::ContainerConfig c;
    c.args = {"sh", "-c", "echo hi"};
    c.env = {"PATH=/bin", "A=1"};
    c.cwd = "/work";
    c.uid = 1000;
    c.gid = 50;
    c.additional_gids = {10};
    c.hostname = "box";
    c.readonly_rootfs = true;
    c.binds = {{.source = "/srv/data", .destination = "/data", .readonly = true}};
    c.tmpfs = {"/scratch"};
    c.cap_drop = {"ALL"};
    c.cap_add = {"net_bind_service", "CAP_KILL"};
    c.no_new_privileges = true;
    c.memory_limit = 64 << 20;
    c.cpu_quota = 50000;
    c.pids_limit = 20;
    c.network = spec::NetworkMode::host;
    auto text = spec::container_config_json(c);
    REQUIRE(text);
    auto parsed = spec::parse_spec(*text);
    INFO(*text);
    REQUIRE(parsed);
    auto j = nlohmann::json::parse(*text);
    CHECK(j["process"]["capabilities"]["effective"] == nlohmann::json({"CAP_NET_BIND_SERVICE", "CAP_KILL"}));
    CHECK(j["process"]["user"]["additionalGids"] == nlohmann::json({10}));
    CHECK(j["root"]["readonly"] == true);
    CHECK(j["linux"]["resources"]["memory"]["limit"] == 64 << 20);
    CHECK(j["linux"]["resources"]["cpu"]["quota"] == 50000);
    CHECK(j["linux"]["resources"]["pids"]["limit"] == 20);
    for (const auto& ns : j["linux"]["namespaces"]) CHECK(ns["type"] != "network");
    CHECK(text->find("\"/etc/resolv.conf\"") != std::string::npos);
    CHECK(text->find("\"/scratch\"") != std::string::npos);

    spec::ContainerConfig defaults;
    defaults.args = {"true"};
    auto plain = nlohmann::json::parse(spec::container_config_json(defaults).value());
    CHECK(plain["process"]["capabilities"]["bounding"] == nlohmann::json(spec::default_capabilities()));
    bool has_network = false;
    for (const auto& ns : plain["linux"]["namespaces"]) has_network |= ns["type"] == "network";
    CHECK(has_network);

    spec::ContainerConfig bad;
    bad.args = {"true"};
    bad.cap_add = {"CAP_NONSENSE"};
    auto refused = spec::container_config_json(bad);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().message == "--cap-add: unknown capability CAP_NONSENSE");

    spec::ContainerConfig not_utf8;
    not_utf8.args = {"echo", "\xff"};
    auto unwritable = spec::container_config_json(not_utf8);
    REQUIRE_FALSE(unwritable);
    CHECK(unwritable.error().message.find("not valid UTF-8") != std::string::npos);
}

namespace {

cli::ContainerRecord named(const std::string& name) {
    cli::ContainerRecord record;
    record.name = name;
    return record;
}

}  // namespace

TEST_CASE("container status: each has its word, and the words read back", "[hutch-containers]") {
    using cli::ContainerStatus;
    for (auto status : {ContainerStatus::created, ContainerStatus::starting, ContainerStatus::running,
                        ContainerStatus::paused, ContainerStatus::exited, ContainerStatus::unknown})
        CHECK(cli::status_from_string(cli::to_string(status)) == status);
    CHECK(cli::to_string(ContainerStatus::exited) == "exited");
    CHECK_FALSE(cli::status_from_string("Running"));
    CHECK_FALSE(cli::status_from_string(""));
}

TEST_CASE("container store: transitions apply only from the expected status", "[hutch-containers]") {
    using cli::ContainerStatus;
    test::StoreDir dir;
    auto store = cli::ContainerStore::open(dir.root(), dir.root() + "/run");
    REQUIRE(store);
    auto added = store->add(named("box"));
    REQUIRE(added);
    const std::string id = added->id;

    auto started = store->transition(id, {ContainerStatus::created}, ContainerStatus::starting);
    REQUIRE(started);
    CHECK(started->status == ContainerStatus::starting);
    // The monitor recorded the end meanwhile: a late "running" does not apply.
    REQUIRE(store->update(id, [](cli::ContainerRecord& r) { r.status = ContainerStatus::exited; }));
    auto late = store->transition(id, {ContainerStatus::starting}, ContainerStatus::running);
    REQUIRE_FALSE(late);
    CHECK(late.error().message == "container box is exited");
    CHECK(store->find(id)->status == ContainerStatus::exited);
    // A failed action writes nothing.
    auto refused = store->transition(id, {ContainerStatus::exited}, ContainerStatus::starting,
                                     [](cli::ContainerRecord&) -> ErrorOr<void> { return fail("no"); });
    REQUIRE_FALSE(refused);
    CHECK(store->find(id)->status == ContainerStatus::exited);
}

TEST_CASE("container store: a removed container is not brought back by a late update", "[hutch-containers]") {
    test::StoreDir dir;
    auto store = cli::ContainerStore::open(dir.root(), dir.root() + "/run");
    REQUIRE(store);
    auto added = store->add({});
    REQUIRE(added);
    std::filesystem::remove_all(store->dir(added->id));
    auto late = store->update(added->id, [](cli::ContainerRecord& r) { r.exit_code = 3; });
    REQUIRE_FALSE(late);
    CHECK(late.error().message == "no such container: " + added->id);
    CHECK_FALSE(std::filesystem::exists(store->dir(added->id)));
}

TEST_CASE("container store: an unreadable record is listed as unknown, the others as they are",
          "[hutch-containers]") {
    test::StoreDir dir;
    auto store = cli::ContainerStore::open(dir.root(), dir.root() + "/run");
    REQUIRE(store);
    auto fine = store->add(named("fine"));
    auto broken = store->add(named("broken"));
    REQUIRE(fine);
    REQUIRE(broken);
    REQUIRE(write_file_atomic(store->dir(broken->id) + "/container.json", "{\"id\": 5"));
    auto listed = store->list();
    REQUIRE(listed);
    REQUIRE(listed->size() == 2);
    for (const auto& r : *listed) {
        if (r.id == fine->id) CHECK(r.status == cli::ContainerStatus::created);
        if (r.id == broken->id) CHECK(r.status == cli::ContainerStatus::unknown);
    }
    CHECK(store->find("fine"));
    auto found = store->find(broken->id);
    REQUIRE(found);
    CHECK(found->status == cli::ContainerStatus::unknown);
}
