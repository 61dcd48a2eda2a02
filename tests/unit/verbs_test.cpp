// The pure parts of pause, update, events, ps and features: cgroup stat files, runc's size and
// duration flags, the --resources document, the events JSON, ps's table and the features document.
#include <dirent.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "base/duration.h"
#include "cgroups/stat_files.h"
#include "cgroups/stats.h"
#include "runtime/events_json.h"
#include "runtime/ps_table.h"
#include "runtime/runtime.h"
#include "runtime/update_flags.h"

using namespace hutch;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

// A directory of fake cgroup files, removed at the end of the test.
class FakeCgroup {
public:
    FakeCgroup() {
        char name[] = "/tmp/hutch-unit-cgroup-XXXXXX";
        REQUIRE(::mkdtemp(name));
        dir_ = name;
    }
    ~FakeCgroup() { std::filesystem::remove_all(dir_); }
    FakeCgroup(const FakeCgroup&) = delete;
    FakeCgroup& operator=(const FakeCgroup&) = delete;

    const std::string& dir() const { return dir_; }
    void write(const std::string& file, const std::string& text) const {
        std::ofstream(dir_ + "/" + file) << text;
    }

private:
    std::string dir_;
};

std::string error_of(const ErrorOr<spec::Resources>& result) {
    REQUIRE_FALSE(result);
    CHECK(result.error().message.find('\n') == std::string::npos);
    return result.error().message;
}

runtime::UpdateFlags no_flags() { return {}; }

bool contains(const nlohmann::json& list, const std::string& name) {
    return std::find(list.begin(), list.end(), name) != list.end();
}

}  // namespace

TEST_CASE("stat files: numbers, limits with max, lists of numbers", "[verbs]") {
    CHECK(cgroups::parse_counter("123\n").value() == 123);
    CHECK(cgroups::parse_limit("max\n", kMax).value() == kMax);
    CHECK(cgroups::parse_limit("4096", kMax).value() == 4096);
    CHECK(cgroups::parse_counter_list("10 20 30 \n").value() == std::vector<uint64_t>{10, 20, 30});
    CHECK(cgroups::parse_counter_list("").value().empty());
    auto bad = cgroups::parse_counter("12a");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message == "expected a number, got \"12a\"");
}

TEST_CASE("stat files: flat-keyed \"key value\" lines", "[verbs]") {
    auto stat = cgroups::parse_flat_keyed(
        "usage_usec 1234\nuser_usec 1000\nsystem_usec 234\nnr_periods 0\n\nthrottled_usec 7\n");
    REQUIRE(stat);
    CHECK(stat->at("usage_usec") == 1234);
    CHECK(stat->at("throttled_usec") == 7);
    CHECK(stat->size() == 5);
    auto bad = cgroups::parse_flat_keyed("low 0\nhigh\n");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message == "line 2: expected \"KEY VALUE\", got \"high\"");
    CHECK_FALSE(cgroups::parse_flat_keyed("oom_kill x\n"));
}

TEST_CASE("stat files: the page size in hugetlb file names", "[verbs]") {
    CHECK(cgroups::hugetlb_page_size("hugetlb.2MB.usage_in_bytes", "usage_in_bytes") == "2MB");
    CHECK(cgroups::hugetlb_page_size("hugetlb.1GB.current", "current") == "1GB");
    CHECK(cgroups::hugetlb_page_size("hugetlb.2MB.rsvd.current", "current").empty());
    CHECK(cgroups::hugetlb_page_size("hugetlb.2MB.max", "current").empty());
    CHECK(cgroups::hugetlb_page_size("memory.current", "current").empty());
}

TEST_CASE("stats: the v2 reader, from files as the kernel writes them", "[verbs]") {
    FakeCgroup cg;
    cg.write("cpu.stat",
             "usage_usec 3000\nuser_usec 2000\nsystem_usec 1000\nnr_periods 10\nnr_throttled 2\n"
             "throttled_usec 500\nnr_bursts 0\nburst_usec 0\n");
    cg.write("memory.current", "1048576\n");
    cg.write("memory.peak", "2097152\n");
    cg.write("memory.max", "33554432\n");
    cg.write("memory.swap.current", "4096\n");
    cg.write("memory.swap.max", "0\n");
    cg.write("memory.stat", "anon 4096\nfile 8192\n");
    cg.write("memory.events", "low 0\nhigh 0\nmax 5\noom 2\noom_kill 1\noom_group_kill 0\n");
    cg.write("pids.current", "3\n");
    cg.write("pids.max", "max\n");
    cg.write("hugetlb.2MB.current", "0\n");
    cg.write("hugetlb.2MB.rsvd.current", "0\n");
    auto stats = cgroups::read_v2_stats(cg.dir());
    REQUIRE(stats);
    CHECK(stats->cpu.total_ns == 3'000'000);
    CHECK(stats->cpu.user_ns == 2'000'000);
    CHECK(stats->cpu.kernel_ns == 1'000'000);
    CHECK(stats->cpu.throttled_periods == 2);
    CHECK(stats->cpu.throttled_ns == 500'000);
    CHECK(stats->memory.usage == 1048576);
    CHECK(stats->memory.max_usage == 2097152);
    CHECK(stats->memory.limit == 33554432);
    CHECK(stats->memory.failcnt == 5);
    CHECK(stats->memory.swap_usage == 1048576 + 4096);  // memory+swap, as runc reports it
    CHECK(stats->memory.swap_limit == 33554432);
    CHECK(stats->memory.raw.at("file") == 8192);
    CHECK(stats->oom_kills == 1);
    CHECK(stats->pids.current == 3);
    CHECK(stats->pids.limit == 0);  // max: unlimited
    CHECK(stats->hugetlb_usage == std::map<std::string, uint64_t>{{"2MB", 0}});

    cg.write("memory.max", "max\n");
    cg.write("memory.swap.max", "max\n");
    stats = cgroups::read_v2_stats(cg.dir());
    REQUIRE(stats);
    CHECK(stats->memory.limit == kMax);
    CHECK(stats->memory.swap_limit == kMax);
}

TEST_CASE("stats: files the host does not offer stay 0; a bad one is an error naming it", "[verbs]") {
    FakeCgroup cg;
    cg.write("cpu.stat", "usage_usec 5\nuser_usec 3\nsystem_usec 2\n");
    auto stats = cgroups::read_v2_stats(cg.dir());
    REQUIRE(stats);
    CHECK(stats->cpu.total_ns == 5000);
    CHECK(stats->memory.usage == 0);
    CHECK(stats->memory.swap_limit == 0);
    CHECK(stats->pids.current == 0);
    cg.write("memory.events", "oom_kill many\n");
    auto bad = cgroups::read_v2_stats(cg.dir());
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().message,
               Catch::StartsWith("cgroups: stats: " + cg.dir() + "/memory.events: line 1"));
}

TEST_CASE("stats: the v1 reader, one directory per controller", "[verbs]") {
    FakeCgroup cpu, memory, pids;
    cpu.write("cpuacct.usage", "3000\n");
    cpu.write("cpuacct.usage_percpu", "1000 2000 \n");
    cpu.write("cpuacct.usage_user", "2500\n");
    cpu.write("cpuacct.usage_sys", "500\n");
    cpu.write("cpu.stat", "nr_periods 4\nnr_throttled 1\nthrottled_time 99\n");
    memory.write("memory.usage_in_bytes", "8192\n");
    memory.write("memory.max_usage_in_bytes", "16384\n");
    memory.write("memory.limit_in_bytes", "9223372036854771712\n");
    memory.write("memory.failcnt", "0\n");
    memory.write("memory.stat", "cache 4096\nrss 4096\n");
    memory.write("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
    pids.write("pids.current", "2\n");
    pids.write("pids.max", "10\n");
    std::vector<cgroups::Placement> placements = {
        {{"cpu", "cpuacct"}, cpu.dir()}, {{"memory"}, memory.dir()}, {{"pids"}, pids.dir()}};
    auto stats = cgroups::read_v1_stats(placements);
    REQUIRE(stats);
    CHECK(stats->cpu.total_ns == 3000);
    CHECK(stats->cpu.per_cpu_ns == std::vector<uint64_t>{1000, 2000});
    CHECK(stats->cpu.user_ns == 2500);
    CHECK(stats->cpu.kernel_ns == 500);
    CHECK(stats->cpu.throttled_ns == 99);
    CHECK(stats->memory.usage == 8192);
    CHECK(stats->memory.max_usage == 16384);
    CHECK(stats->memory.limit == 9223372036854771712ULL);
    CHECK(stats->memory.swap_usage == 0);  // no memsw files: no swap accounting
    CHECK(stats->memory.raw.at("cache") == 4096);
    CHECK(stats->oom_kills == 3);
    CHECK(stats->pids.limit == 10);
}

TEST_CASE("update: sizes as runc's flags take them", "[verbs]") {
    CHECK(runtime::parse_size("1024").value() == 1024);
    CHECK(runtime::parse_size("64m").value() == 64 << 20);
    CHECK(runtime::parse_size("64M").value() == 64 << 20);
    CHECK(runtime::parse_size("64MiB").value() == 64 << 20);
    CHECK(runtime::parse_size("64mb").value() == 64 << 20);
    CHECK(runtime::parse_size("1.5g").value() == 3LL << 29);
    CHECK(runtime::parse_size("512k").value() == 512 << 10);
    CHECK(runtime::parse_size("100b").value() == 100);
    CHECK(runtime::parse_size("-1").value() == -1);
    for (const char* bad : {"", "abc", "12q", "-2", "1.2.3m", "m", "64mm"}) {
        INFO(bad);
        CHECK_FALSE(runtime::parse_size(bad));
    }
}

TEST_CASE("update: flags become the limits to write", "[verbs]") {
    runtime::UpdateFlags flags;
    flags.memory = "32m";
    flags.memory_swap = "64m";
    flags.cpu_quota = "50000";
    flags.cpu_period = "100000";
    flags.cpuset_cpus = "0";
    flags.pids_limit = "42";
    flags.blkio_weight = "300";
    auto r = runtime::update_resources(std::nullopt, flags);
    REQUIRE(r);
    CHECK(r->memory->limit == 32 << 20);
    CHECK(r->memory->swap == 64 << 20);
    CHECK_FALSE(r->memory->reservation);
    CHECK(r->cpu->quota == 50000);
    CHECK(r->cpu->period == 100000);
    CHECK(r->cpu->cpus == "0");
    CHECK_FALSE(r->cpu->shares);
    CHECK(r->pids_limit == 42);
    CHECK(r->block_io->weight == 300);
    CHECK(runtime::update_resources(std::nullopt, no_flags())->memory == std::nullopt);
}

TEST_CASE("update: flags go over the --resources document; 0 leaves a limit as it is", "[verbs]") {
    runtime::UpdateFlags flags;
    flags.memory = "64m";
    flags.pids_limit = "0";
    auto r = runtime::update_resources(
        R"({"memory": {"limit": 1048576, "reservation": 0}, "cpu": {"shares": 512}, "pids": {"limit": 9}})",
        flags);
    REQUIRE(r);
    CHECK(r->memory->limit == 64 << 20);
    CHECK_FALSE(r->memory->reservation);
    CHECK(r->cpu->shares == 512);
    CHECK(r->pids_limit == 9);  // the flag's 0 is runc's "not given"
    auto zeros = runtime::update_resources(R"({"pids": {"limit": 0}, "memory": {"swap": 0}})", no_flags());
    REQUIRE(zeros);
    CHECK_FALSE(zeros->pids_limit);
    CHECK_FALSE(zeros->memory->swap);
}

TEST_CASE("update: unlimited memory makes swap unlimited unless it is given", "[verbs]") {
    runtime::UpdateFlags flags;
    flags.memory = "-1";
    CHECK(runtime::update_resources(std::nullopt, flags)->memory->swap == -1);
    flags.memory_swap = "1g";
    CHECK(runtime::update_resources(std::nullopt, flags)->memory->swap == 1LL << 30);
}

TEST_CASE("update: a bad value is a one-line error naming the flag or field", "[verbs]") {
    runtime::UpdateFlags flags;
    flags.memory = "lots";
    CHECK_THAT(error_of(runtime::update_resources(std::nullopt, flags)),
               Catch::StartsWith("--memory: invalid size"));
    flags = {};
    flags.cpu_quota = "fast";
    CHECK(error_of(runtime::update_resources(std::nullopt, flags)) ==
          "--cpu-quota: expected an integer, got \"fast\"");
    flags = {};
    flags.blkio_weight = "70000";
    CHECK_THAT(error_of(runtime::update_resources(std::nullopt, flags)),
               Catch::StartsWith("--blkio-weight: "));
    flags = {};
    flags.kernel_memory = "10m";
    CHECK(error_of(runtime::update_resources(std::nullopt, flags)) ==
          "--kernel-memory: kernel memory limits are not supported");
    CHECK(error_of(runtime::update_resources(R"({"memory": {"limit": "x"}})", no_flags())) ==
          "--resources: memory.limit: expected integer");
    CHECK(error_of(runtime::update_resources(R"({"blockIO": {"weightDevice": [{}]}})", no_flags())) ==
          "--resources: blockIO.weightDevice[0].major: required");
    CHECK_THAT(error_of(runtime::update_resources("{", no_flags())),
               Catch::StartsWith("--resources: invalid JSON: "));
    CHECK(error_of(runtime::update_resources("[]", no_flags())) == "--resources: expected a JSON object");
}

TEST_CASE("durations as Go writes them", "[verbs]") {
    CHECK(parse_go_duration("1s").value() == 1s);
    CHECK(parse_go_duration("500ms").value() == 500ms);
    CHECK(parse_go_duration("2m").value() == 2min);
    CHECK(parse_go_duration("1m30s").value() == 90s);
    CHECK(parse_go_duration("1.5h").value() == 90min);
    CHECK(parse_go_duration("250us").value() == 250us);
    CHECK(parse_go_duration("10ns").value() == 10ns);
    CHECK(parse_go_duration("0").value() == 0s);
    CHECK(parse_go_duration("-1s").value() == -1s);
    for (const char* bad : {"", "5", "1x", "s", "1s5", "--1s"}) {
        INFO(bad);
        auto parsed = parse_go_duration(bad);
        REQUIRE_FALSE(parsed);
        CHECK_THAT(parsed.error().message,
                   Catch::StartsWith("invalid duration \"" + std::string(bad) + "\""));
    }
}

TEST_CASE("ps: the header and the lines of the container's pids", "[verbs]") {
    std::string output =
        "UID          PID    PPID  C STIME TTY          TIME CMD\n"
        "root           1       0  0 10:00 ?        00:00:01 /sbin/init\n"
        "root        4242       1  0 10:01 ?        00:00:00 sleep 1000\n"
        "root        4243    4242  0 10:01 ?        00:00:00 sh -c echo 4242\n";
    auto table = runtime::filter_ps_table(output, {4242});
    REQUIRE(table);
    CHECK(*table ==
          "UID          PID    PPID  C STIME TTY          TIME CMD\n"
          "root        4242       1  0 10:01 ?        00:00:00 sleep 1000\n");
    auto custom = runtime::filter_ps_table("  PID COMMAND\n    7 sh\n    8 sleep\n", {8, 9});
    REQUIRE(custom);
    CHECK(*custom == "  PID COMMAND\n    8 sleep\n");
    auto no_pid = runtime::filter_ps_table("COMMAND\nsh\n", {1});
    REQUIRE_FALSE(no_pid);
    CHECK_THAT(no_pid.error().message, Catch::Contains("no PID column"));
    CHECK_FALSE(runtime::filter_ps_table("PID CMD\nabc sh\n", {1}));
}

TEST_CASE("events: stats in runc's types.Stats JSON, oom as runc's types.Event", "[verbs]") {
    cgroups::Stats stats;
    stats.cpu.total_ns = 3000;
    stats.cpu.per_cpu_ns = {1000, 2000};
    stats.cpu.user_ns = 2000;
    stats.memory.usage = 8192;
    stats.memory.limit = 65536;
    stats.memory.raw = {{"cache", 4096}};
    stats.pids.current = 2;
    auto event = nlohmann::json::parse(runtime::stats_event("box", stats).dump());
    CHECK(event["type"] == "stats");
    CHECK(event["id"] == "box");
    const auto& data = event["data"];
    CHECK(data["cpu"]["usage"]["total"] == 3000);
    CHECK(data["cpu"]["usage"]["percpu"] == nlohmann::json({1000, 2000}));
    CHECK(data["cpu"]["usage"]["kernel"] == 0);  // not omitempty in runc's type
    CHECK(data["cpu"]["throttling"].empty());    // omitempty: all zero
    CHECK(data["memory"]["cache"] == 4096);
    CHECK(data["memory"]["usage"] == nlohmann::json({{"limit", 65536}, {"usage", 8192}, {"failcnt", 0}}));
    CHECK_FALSE(data["memory"].contains("swap"));  // no swap accounting: nothing invented
    CHECK(data["memory"]["raw"]["cache"] == 4096);
    CHECK(data["pids"] == nlohmann::json({{"current", 2}}));
    CHECK(data["hugetlb"].empty());
    CHECK(runtime::oom_event("box").dump() == R"({"type":"oom","id":"box"})");
}

TEST_CASE("features: the runtime-spec document, true to what hutch accepts", "[verbs][features]") {
    auto doc = nlohmann::json::parse(runtime::features().dump());
    CHECK(doc["ociVersionMin"] == "1.0.0");
    CHECK(doc["ociVersionMax"] == spec::kOciVersion);
    CHECK(doc["hooks"].size() == 6);
    CHECK(contains(doc["hooks"], "createContainer"));
    CHECK(contains(doc["mountOptions"], "bind"));
    CHECK(contains(doc["mountOptions"], "rro"));
    CHECK(contains(doc["mountOptions"], "tmpcopyup"));
    CHECK(contains(doc["mountOptions"], "idmap"));
    CHECK(contains(doc["mountOptions"], "ridmap"));
    CHECK_FALSE(contains(doc["mountOptions"], "acl"));  // passed to the filesystem, not handled
    const auto& linux_ = doc["linux"];
    CHECK(linux_["namespaces"].size() == 8);
    CHECK(contains(linux_["namespaces"], "time"));
    CHECK(contains(linux_["capabilities"], "CAP_SYS_ADMIN"));
    CHECK(contains(linux_["capabilities"], "CAP_CHOWN"));
    CHECK(linux_["cgroup"]["v2"] == true);
    CHECK(linux_["cgroup"]["systemd"] == true);
    CHECK(linux_["seccomp"]["enabled"] == true);
    CHECK(contains(linux_["seccomp"]["actions"], "SCMP_ACT_ERRNO"));
    CHECK(contains(linux_["seccomp"]["actions"], "SCMP_ACT_NOTIFY"));
    CHECK(contains(linux_["seccomp"]["operators"], "SCMP_CMP_MASKED_EQ"));
    CHECK(contains(linux_["seccomp"]["archs"], "SCMP_ARCH_X86_64"));
    CHECK(contains(linux_["seccomp"]["knownFlags"], "SECCOMP_FILTER_FLAG_LOG"));
    for (const auto& flag : linux_["seccomp"]["supportedFlags"])
        CHECK(contains(linux_["seccomp"]["knownFlags"], flag));
    CHECK(linux_["apparmor"]["enabled"] == false);
    CHECK(linux_["selinux"]["enabled"] == false);
    CHECK(linux_["mountExtensions"]["idmap"]["enabled"] == true);
    CHECK(doc["annotations"].contains("io.github.seccomp.libseccomp.version"));
}
