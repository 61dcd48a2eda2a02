// exec's process from the container's own and runc's flags (runtime/exec_process.h).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "runtime/exec_process.h"

using hutch::runtime::exec_process_json;
using hutch::runtime::ExecOptions;
using nlohmann::json;

namespace {

json container_process() {
    return {{"terminal", true},
            {"user", {{"uid", 0}, {"gid", 0}, {"additionalGids", {10}}}},
            {"args", {"sleep", "100"}},
            {"env", {"PATH=/bin", "TERM=xterm"}},
            {"cwd", "/"},
            {"capabilities",
             {{"bounding", {"CAP_KILL"}}, {"effective", {"CAP_KILL"}}, {"permitted", {"CAP_KILL"}}}},
            {"noNewPrivileges", false}};
}

// Options running args, changed by set.
template <typename Set>
ExecOptions options(std::vector<std::string> args, Set set) {
    ExecOptions o;
    o.args = std::move(args);
    set(o);
    return o;
}
ExecOptions options(std::vector<std::string> args) {
    return options(std::move(args), [](ExecOptions&) {});
}

}  // namespace

TEST_CASE("exec: the args replace the container's, everything else is kept", "[exec]") {
    auto p = exec_process_json(container_process(), options({"ls", "-l"})).value();
    CHECK(p["args"] == json({"ls", "-l"}));
    CHECK(p["terminal"] == false);  // only --tty gives one
    CHECK(p["env"] == json({"PATH=/bin", "TERM=xterm"}));
    CHECK(p["user"]["additionalGids"] == json({10}));
    CHECK(p["cwd"] == "/");
    CHECK(exec_process_json(container_process(), options({})).error().message ==
          "exec: a command is required (arguments or --process)");
}

TEST_CASE("exec: --env replaces a variable of the same name, or adds it", "[exec]") {
    auto p = exec_process_json(container_process(), options({"sh"},
                                                            [](auto& o) {
                                                                o.env = {"TERM=dumb", "NEW=1"};
                                                            }))
                 .value();
    CHECK(p["env"] == json({"PATH=/bin", "TERM=dumb", "NEW=1"}));
}

TEST_CASE("exec: --user takes UID[:GID] as numbers, --additional-gids replaces the list", "[exec]") {
    auto p = exec_process_json(container_process(), options({"sh"},
                                                            [](auto& o) {
                                                                o.user = "1000:1001";
                                                                o.additional_gids = {5};
                                                            }))
                 .value();
    CHECK(p["user"]["uid"] == 1000);
    CHECK(p["user"]["gid"] == 1001);
    CHECK(p["user"]["additionalGids"] == json({5}));
    CHECK(exec_process_json(container_process(), options({"sh"}, [](auto& o) { o.user = "1000"; }))
              .value()["user"]["gid"] == 0);
    for (const char* bad : {"root", "1000:", ":5", "1000:x", "-1"}) {
        INFO(bad);
        CHECK(exec_process_json(container_process(), options({"sh"}, [&](auto& o) { o.user = bad; }))
                  .error()
                  .message.starts_with("--user: expected UID[:GID] as numbers"));
    }
}

TEST_CASE("exec: --cap joins the bounding, effective and permitted sets; ambient only with inheritable",
          "[exec]") {
    auto p =
        exec_process_json(container_process(), options({"sh"}, [](auto& o) { o.caps = {"CAP_SYS_ADMIN"}; }))
            .value();
    for (const char* set : {"bounding", "effective", "permitted"})
        CHECK(p["capabilities"][set] == json({"CAP_KILL", "CAP_SYS_ADMIN"}));
    CHECK_FALSE(p["capabilities"].contains("ambient"));
    auto with_inheritable = container_process();
    with_inheritable["capabilities"]["inheritable"] = json::array();
    auto q = exec_process_json(with_inheritable, options({"sh"}, [](auto& o) { o.caps = {"CAP_SYS_ADMIN"}; }))
                 .value();
    CHECK(q["capabilities"]["ambient"] == json({"CAP_SYS_ADMIN"}));
}

TEST_CASE("exec: --tty, --cwd, --no-new-privs, --apparmor and --process-label land in their fields",
          "[exec]") {
    auto p = exec_process_json(container_process(), options({"sh"},
                                                            [](auto& o) {
                                                                o.tty = true;
                                                                o.cwd = "/tmp";
                                                                o.no_new_privs = true;
                                                                o.apparmor = "profile";
                                                                o.process_label = "label";
                                                            }))
                 .value();
    CHECK(p["terminal"] == true);
    CHECK(p["cwd"] == "/tmp");
    CHECK(p["noNewPrivileges"] == true);
    CHECK(p["apparmorProfile"] == "profile");
    CHECK(p["selinuxLabel"] == "label");
}
