// The config the host hands hutch-agent (microvm/agent/protocol.h): what the agent reads is what
// the host wrote, the container's settings included, and a config it cannot apply is refused.
#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "microvm/agent/protocol.h"

using namespace hutch::microvm;

TEST_CASE("microvm protocol: a guest config round-trips with its rlimits, read-only root and tmpfs",
          "[microvm-protocol]") {
    GuestConfig config;
    config.args = {"sh", "-c", "ulimit -n"};
    config.env = {"PATH=/bin"};
    config.uid = 1000;
    config.layers = 2;
    config.rlimits = {{.resource = RLIMIT_NOFILE, .soft = 1024, .hard = 1024},
                      {.resource = RLIMIT_CORE, .soft = 0, .hard = RLIM_INFINITY}};
    config.readonly_root = true;
    config.tmpfs = {"/run", "/scratch/a"};

    auto parsed = parse_guest_config(to_json(config));
    REQUIRE(parsed);
    CHECK(parsed->args == config.args);
    CHECK(parsed->uid == 1000);
    CHECK(parsed->layers == 2);
    REQUIRE(parsed->rlimits.size() == 2);
    CHECK(parsed->rlimits[0].resource == RLIMIT_NOFILE);
    CHECK(parsed->rlimits[0].soft == 1024);
    CHECK(parsed->rlimits[1].hard == RLIM_INFINITY);
    CHECK(parsed->readonly_root);
    CHECK(parsed->tmpfs == config.tmpfs);
}

TEST_CASE("microvm protocol: a tmpfs path that is not absolute is refused", "[microvm-protocol]") {
    GuestConfig config;
    config.args = {"true"};
    config.layers = 1;
    config.tmpfs = {"run"};
    auto parsed = parse_guest_config(to_json(config));
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().message.find("tmpfs") != std::string::npos);
}

TEST_CASE("microvm protocol: the namespaces round-trip by name; one the guest does not make is refused",
          "[microvm-protocol]") {
    GuestConfig config;
    config.args = {"true"};
    config.layers = 1;
    config.namespaces = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWCGROUP;
    auto text = to_json(config);
    CHECK(nlohmann::json::parse(text)["namespaces"] == nlohmann::json::array({"pid", "mount", "cgroup"}));
    auto parsed = parse_guest_config(text);
    REQUIRE(parsed);
    CHECK(parsed->namespaces == config.namespaces);
    config.namespaces = guest_namespaces;
    CHECK(parse_guest_config(to_json(config))->namespaces == guest_namespaces);

    auto j = nlohmann::json::parse(text);
    for (const auto& bad : {nlohmann::json::array({"network"}), nlohmann::json::array({"user"}),
                            nlohmann::json::array({1}), nlohmann::json("pid")}) {
        j["namespaces"] = bad;
        auto refused = parse_guest_config(j.dump());
        REQUIRE_FALSE(refused);
        CHECK(refused.error().message.starts_with("guest config: namespaces: "));
    }
}

TEST_CASE("microvm protocol: volumes round-trip, and one at a relative path is refused",
          "[microvm-protocol]") {
    GuestConfig config;
    config.args = {"true"};
    config.layers = 1;
    config.volumes = {{.path = "/data", .readonly = false}, {.path = "/etc/app", .readonly = true}};
    auto parsed = parse_guest_config(to_json(config));
    REQUIRE(parsed);
    REQUIRE(parsed->volumes.size() == 2);
    CHECK(parsed->volumes[0].path == "/data");
    CHECK_FALSE(parsed->volumes[0].readonly);
    CHECK(parsed->volumes[1].path == "/etc/app");
    CHECK(parsed->volumes[1].readonly);

    config.volumes = {{.path = "data", .readonly = false}};
    auto relative = parse_guest_config(to_json(config));
    REQUIRE_FALSE(relative);
    CHECK(relative.error().message == "guest config: volumes[0].path: not an absolute path: data");
}

TEST_CASE("microvm protocol: files round-trip byte for byte; a bad mode or content is refused",
          "[microvm-protocol]") {
    GuestConfig config;
    config.args = {"true"};
    config.layers = 1;
    std::string bytes("nameserver 127.0.0.1\n\0\xff\x80", 24);
    config.files = {{.path = "/etc/resolv.conf", .content = bytes, .mode = 0600}};
    auto parsed = parse_guest_config(to_json(config));
    REQUIRE(parsed);
    REQUIRE(parsed->files.size() == 1);
    CHECK(parsed->files[0].path == "/etc/resolv.conf");
    CHECK(parsed->files[0].content == bytes);
    CHECK(parsed->files[0].mode == 0600);

    config.files[0].mode = 010000;
    CHECK(parse_guest_config(to_json(config)).error().message ==
          "guest config: files[0].mode: more than permission bits");
    auto odd = nlohmann::json::parse(to_json(config));
    odd["files"][0]["mode"] = 0644;
    odd["files"][0]["content"] = "abc";
    CHECK(parse_guest_config(odd.dump()).error().message == "guest config: files[0].content: not hex");
    odd["files"][0]["content"] = "zz";
    CHECK(parse_guest_config(odd.dump()).error().message == "guest config: files[0].content: not hex");
}

TEST_CASE(
    "microvm protocol: capabilities, no_new_privs and a seccomp program round-trip; a bad program is refused",
    "[microvm-protocol]") {
    GuestConfig config;
    config.args = {"true"};
    config.layers = 1;
    CHECK_FALSE(parse_guest_config(to_json(config))->security.capabilities);  // the agent's own

    config.security.capabilities = GuestCapabilities{
        .bounding = 0x21, .effective = 0x20, .permitted = 0x21, .inheritable = 1, .ambient = 1};
    config.security.no_new_privileges = true;
    config.security.seccomp = GuestSeccomp{
        .program = {BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0), BPF_STMT(BPF_RET | BPF_K, 0x7fff0000)},
        .flags = 2};
    auto parsed = parse_guest_config(to_json(config));
    REQUIRE(parsed);
    REQUIRE(parsed->security.capabilities);
    CHECK(parsed->security.capabilities->bounding == 0x21);
    CHECK(parsed->security.capabilities->effective == 0x20);
    CHECK(parsed->security.capabilities->permitted == 0x21);
    CHECK(parsed->security.capabilities->inheritable == 1);
    CHECK(parsed->security.capabilities->ambient == 1);
    CHECK(parsed->security.no_new_privileges);
    REQUIRE(parsed->security.seccomp);
    CHECK(parsed->security.seccomp->flags == 2);
    REQUIRE(parsed->security.seccomp->program.size() == 2);
    CHECK(parsed->security.seccomp->program[0].code == (BPF_LD | BPF_W | BPF_ABS));
    CHECK(parsed->security.seccomp->program[1].k == 0x7fff0000);

    auto bad = nlohmann::json::parse(to_json(config));
    bad["security"]["seccomp"]["program"] = "00112233";  // half an instruction
    std::string refused = "guest config: security.seccomp.program: not 1 to 4096 BPF instructions";
    CHECK(parse_guest_config(bad.dump()).error().message == refused);
    bad["security"]["seccomp"]["program"] = "";
    CHECK(parse_guest_config(bad.dump()).error().message == refused);
    bad["security"]["seccomp"]["program"] = std::string(8 * 4097 * 2, '0');
    CHECK(parse_guest_config(bad.dump()).error().message == refused);
    bad["security"]["seccomp"]["program"] = "0g11223344556677";
    CHECK(parse_guest_config(bad.dump()).error().message ==
          "guest config: security.seccomp.program: not hex");
    bad["security"]["capabilities"]["bounding"] = -1;
    CHECK_FALSE(parse_guest_config(bad.dump()));
}

TEST_CASE("microvm protocol: the limits round-trip, and one the kernel would refuse is refused here",
          "[microvm-protocol]") {
    GuestConfig config;
    config.args = {"true"};
    config.layers = 1;
    config.limits.memory_bytes = 64 << 20;
    config.limits.cpu_quota = 150'000;
    config.limits.pids_max = 5;
    auto parsed = parse_guest_config(to_json(config));
    REQUIRE(parsed);
    CHECK(parsed->limits.memory_bytes == 64 << 20);
    CHECK(parsed->limits.cpu_quota == 150'000);
    CHECK_FALSE(parsed->limits.cpu_period);  // the kernel's default
    CHECK(parsed->limits.pids_max == 5);

    // Without limits, none is set: the process's cgroup has the VM's whole size.
    GuestConfig unlimited = config;
    unlimited.limits = {};
    auto none = parse_guest_config(to_json(unlimited));
    REQUIRE(none);
    CHECK_FALSE(none->limits.memory_bytes);
    CHECK_FALSE(none->limits.cpu_quota);
    CHECK_FALSE(none->limits.pids_max);

    auto refused = [&](auto set_limit, const std::string& field) {
        GuestConfig bad = config;
        bad.limits = {};
        set_limit(bad.limits);
        auto result = parse_guest_config(to_json(bad));
        REQUIRE_FALSE(result);
        CHECK(result.error().message.find("limits." + field) != std::string::npos);
    };
    refused([](GuestLimits& l) { l.pids_max = 0; }, "pidsMax");
    refused([](GuestLimits& l) { l.pids_max = -2; }, "pidsMax");
    refused([](GuestLimits& l) { l.memory_bytes = 0; }, "memoryBytes");
    refused([](GuestLimits& l) { l.cpu_quota = -2; }, "cpuQuota");
    refused([](GuestLimits& l) { l.cpu_period = 10; }, "cpuPeriod");
    refused([](GuestLimits& l) { l.cpu_period = 2'000'000; }, "cpuPeriod");
    auto not_integer = parse_guest_config(R"({"args":["true"],"layers":1,"limits":{"pidsMax":"5"}})");
    REQUIRE_FALSE(not_integer);
    CHECK(not_integer.error().message.find("limits.pidsMax: expected integer") != std::string::npos);
}

TEST_CASE("microvm protocol: the terminal and its size round-trip, and a size out of range is refused",
          "[microvm-protocol]") {
    GuestConfig config;
    config.args = {"sh"};
    config.layers = 1;
    config.terminal = true;
    config.window_size = {.rows = 37, .cols = 101};
    auto parsed = parse_guest_config(to_json(config));
    REQUIRE(parsed);
    CHECK(parsed->terminal);
    CHECK(parsed->window_size.rows == 37);
    CHECK(parsed->window_size.cols == 101);

    // Absent: no terminal, as before -t existed.
    auto plain = parse_guest_config(R"({"args":["true"],"layers":1})");
    REQUIRE(plain);
    CHECK_FALSE(plain->terminal);

    auto too_wide = parse_guest_config(R"({"args":["sh"],"layers":1,"windowSize":{"rows":24,"cols":70000}})");
    REQUIRE_FALSE(too_wide);
    CHECK(too_wide.error().message.find("windowSize.cols") != std::string::npos);
    auto not_bool = parse_guest_config(R"({"args":["sh"],"layers":1,"terminal":1})");
    REQUIRE_FALSE(not_bool);
    CHECK(not_bool.error().message.find("terminal") != std::string::npos);
}

TEST_CASE("microvm protocol: a window size frame's payload is ROWSxCOLS and nothing else",
          "[microvm-protocol]") {
    CHECK(window_size_payload({.rows = 24, .cols = 80}) == "24x80");
    auto size = parse_window_size_payload("50x132");
    REQUIRE(size);
    CHECK(size->rows == 50);
    CHECK(size->cols == 132);
    for (const char* bad : {"", "24", "x80", "24x", "24x80x1", "-1x80", "24x70000", " 24x80"})
        CHECK_FALSE(parse_window_size_payload(bad));

    FrameReader reader;
    reader.feed(encode_frame(FrameKind::window_size, "24x80"));
    auto frame = reader.next();
    REQUIRE(frame);
    REQUIRE(*frame);
    CHECK((*frame)->kind == FrameKind::window_size);
    CHECK((*frame)->payload == "24x80");
}

TEST_CASE("microvm protocol: prepared and go are frames of their own; a kind unknown stops the reader",
          "[microvm-protocol]") {
    FrameReader reader;
    reader.feed(encode_frame(FrameKind::prepared, "") + encode_frame(FrameKind::go, ""));
    for (FrameKind kind : {FrameKind::prepared, FrameKind::go}) {
        auto frame = reader.next();
        REQUIRE(frame);
        REQUIRE(*frame);
        CHECK((*frame)->kind == kind);
        CHECK((*frame)->payload.empty());
    }
    auto none = reader.next();
    REQUIRE(none);
    CHECK_FALSE(*none);
    reader.feed(std::string("q\0\0\0\0", 5));
    CHECK_FALSE(reader.next());
}

TEST_CASE("microvm protocol: an exec frame carries its exec's number before its data", "[microvm-protocol]") {
    FrameReader reader;
    reader.feed(encode_exec_frame(FrameKind::exec_stdout, 0x01020304, "out") +
                encode_exec_frame(FrameKind::exec_stdin, 7, ""));
    auto first = reader.next();
    REQUIRE(first);
    REQUIRE(*first);
    CHECK((*first)->kind == FrameKind::exec_stdout);
    auto payload = parse_exec_payload((*first)->payload);
    REQUIRE(payload);
    CHECK(payload->exec == 0x01020304);
    CHECK(payload->data == "out");
    auto second = reader.next();
    REQUIRE(second);
    REQUIRE(*second);
    auto end = parse_exec_payload((*second)->payload);
    REQUIRE(end);
    CHECK(end->exec == 7);
    CHECK(end->data.empty());  // an exec's stdin ended

    auto short_payload = parse_exec_payload("abc");
    REQUIRE_FALSE(short_payload);
    CHECK(short_payload.error().message == "an exec frame without its exec's number");
}

TEST_CASE("microvm protocol: only start, stdin, signal, window size and update are the host's exec frames",
          "[microvm-protocol]") {
    for (auto kind : {FrameKind::exec_start, FrameKind::exec_stdin, FrameKind::exec_signal,
                      FrameKind::exec_window_size, FrameKind::update})
        CHECK(is_host_exec_frame(kind));
    // The guest's answers, and the first process's own frames, are not.
    for (auto kind :
         {FrameKind::exec_started, FrameKind::exec_stdout, FrameKind::exec_stderr, FrameKind::exec_exit,
          FrameKind::exec_failure, FrameKind::signal, FrameKind::window_size, FrameKind::config})
        CHECK_FALSE(is_host_exec_frame(kind));
    // Of those, the requests about the cgroup, which the agent answers before start too.
    for (auto kind : {FrameKind::update, FrameKind::stats, FrameKind::processes})
        CHECK(is_cgroup_request(kind));
    for (auto kind : {FrameKind::exec_start, FrameKind::exec_stdin, FrameKind::exec_signal, FrameKind::go})
        CHECK_FALSE(is_cgroup_request(kind));
}

TEST_CASE("microvm protocol: a byte that is not UTF-8 reaches the guest as U+FFFD, not as a throw",
          "[microvm-protocol]") {
    GuestConfig config;
    config.args = {"echo", "a\xff"};
    config.layers = 1;
    auto parsed = parse_guest_config(to_json(config));
    REQUIRE(parsed);
    CHECK(parsed->args[1] == "a\xef\xbf\xbd");
}

TEST_CASE("microvm protocol: an update's limits round-trip, -1 being no limit, and a bad one is refused",
          "[microvm-protocol]") {
    GuestLimits update;
    update.memory_bytes = -1;
    update.cpu_period = 50'000;
    update.pids_max = 20;
    auto parsed = parse_guest_limits(to_json(update));
    REQUIRE(parsed);
    CHECK(parsed->memory_bytes == -1);
    CHECK_FALSE(parsed->cpu_quota);  // left as it is
    CHECK(parsed->cpu_period == 50'000);
    CHECK(parsed->pids_max == 20);
    CHECK(parse_guest_limits("{}").value().memory_bytes == std::nullopt);

    auto bad = parse_guest_limits(R"({"memoryBytes":-5})");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message == "limits.memoryBytes: neither -1 nor above 0");
    CHECK_FALSE(parse_guest_limits("[]"));
    CHECK_FALSE(parse_guest_limits("not json"));
    // An update opens an exec's number, as a start does; the mux takes nothing else first.
    CHECK(opens_exec(FrameKind::update));
    CHECK(opens_exec(FrameKind::exec_start));
    CHECK_FALSE(opens_exec(FrameKind::exec_stdin));
}

TEST_CASE("microvm protocol: a stats answer round-trips, and the host checks every field of it",
          "[microvm-protocol]") {
    hutch::cgroups::Stats stats;
    stats.cpu.total_ns = 123'000;
    stats.cpu.per_cpu_ns = {1, 2};
    stats.cpu.throttled_periods = 3;
    stats.memory.usage = 4 << 20;
    stats.memory.limit = 16 << 20;
    stats.memory.raw = {{"anon", 4096}, {"file", 0}};
    stats.pids = {.current = 2, .limit = 20};
    stats.oom_kills = 1;
    stats.hugetlb_usage = {{"2MB", 0}};
    auto parsed = parse_guest_stats(to_json(stats));
    REQUIRE(parsed);
    CHECK(parsed->cpu.total_ns == 123'000);
    CHECK(parsed->cpu.per_cpu_ns == std::vector<uint64_t>{1, 2});
    CHECK(parsed->cpu.throttled_periods == 3);
    CHECK(parsed->memory.usage == 4 << 20);
    CHECK(parsed->memory.limit == 16 << 20);
    CHECK(parsed->memory.raw == stats.memory.raw);
    CHECK(parsed->pids.current == 2);
    CHECK(parsed->pids.limit == 20);
    CHECK(parsed->oom_kills == 1);
    CHECK(parsed->hugetlb_usage == stats.hugetlb_usage);

    auto refused = [](const std::string& text, const std::string& says) {
        auto result = parse_guest_stats(text);
        REQUIRE_FALSE(result);
        INFO(result.error().message);
        CHECK(result.error().message.find(says) != std::string::npos);
    };
    refused(R"({"memory":{"usage":-1}})", "memory.usage");
    refused(R"({"memory":{"raw":{"anon":"x"}}})", "memory.raw.anon");
    refused(R"({"pids":[]})", "pids");
    refused(R"({"oomKills":1.5})", "oomKills");
    refused("[]", "stats");
    refused("{", "not JSON");
}

TEST_CASE("microvm protocol: a processes answer is a list of pids above 0", "[microvm-protocol]") {
    CHECK(parse_guest_pids(pids_json({1, 7})).value() == std::vector<pid_t>{1, 7});
    CHECK(parse_guest_pids("[]").value().empty());
    CHECK_FALSE(parse_guest_pids("[0]"));
    CHECK_FALSE(parse_guest_pids("[-3]"));
    CHECK_FALSE(parse_guest_pids(R"(["1"])"));
    CHECK_FALSE(parse_guest_pids("{}"));
    CHECK_FALSE(parse_guest_pids("[1"));
}

TEST_CASE("microvm protocol: linux.resources as a VM takes it, and its shares, reservation and unified files",
          "[microvm-protocol]") {
    hutch::spec::Resources resources;
    resources.memory.emplace();
    resources.memory->limit = 64 << 20;
    resources.memory->reservation = 0;  // runc's "not set"
    resources.cpu.emplace();
    resources.cpu->shares = 1024;
    resources.cpu->quota = -1;
    resources.pids_limit = 0;
    resources.unified = {{"memory.high", "max"}};
    GuestLimits limits = guest_limits(resources);
    CHECK(limits.memory_bytes == 64 << 20);
    CHECK_FALSE(limits.memory_low);
    CHECK(limits.cpu_weight == 39u);  // runc's formula
    CHECK(limits.cpu_quota == -1);
    CHECK_FALSE(limits.cpu_period);
    CHECK_FALSE(limits.pids_max);
    auto parsed = parse_guest_limits(to_json(limits));
    REQUIRE(parsed);
    CHECK(parsed->cpu_weight == 39u);
    CHECK(parsed->unified == limits.unified);

    auto refused = [](const std::string& text, const std::string& says) {
        auto result = parse_guest_limits(text);
        REQUIRE_FALSE(result);
        CHECK(result.error().message == says);
    };
    refused(R"({"cpuWeight":0})", "limits.cpuWeight: not between 1 and 10000");
    refused(R"({"memoryLow":-2})", "limits.memoryLow: neither -1 nor above 0");
    refused(R"({"unified":{"../cpu.max":"1"}})", "limits.unified: not a cgroup file's name: ../cpu.max");
    refused(R"({"unified":{"memory":"1"}})", "limits.unified: not a cgroup file's name: memory");
    refused(R"({"unified":{".hidden.x":"1"}})", "limits.unified: not a cgroup file's name: .hidden.x");
}
