// linux.netDevices: an interface of the runtime's network namespace moves into the container's at
// create, renamed, and back at delete. hutch-oci runs in a network namespace the test makes, so
// that no interface of the host's is ever touched; veth pairs stand in for host interfaces (every
// container host has veth; dummy is a module that some kernels lack).
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "harness.h"

using namespace hutch::test;

namespace {

// A network namespace of the test's own (/run/netns/NAME) with a hutch-oci --root inside it. The
// destructor force-deletes every container left, from inside the namespace, so that their
// interfaces go back to it and not to the host's, and then removes the namespace.
class NetnsRuntime {
public:
    NetnsRuntime() : name_(unique_id("hutch-test-net")) {
        auto r = ip({"netns", "add", name_});
        if (r.status != 0) throw std::runtime_error("ip netns add " + name_ + ": " + r.err);
    }
    ~NetnsRuntime() {
        auto list = (*this)({"list", "--quiet"});
        std::istringstream ids(list.out);
        for (std::string id; std::getline(ids, id);)
            if (!id.empty()) (*this)({"delete", "--force", id});
        ip({"netns", "delete", name_});
    }
    NetnsRuntime(const NetnsRuntime&) = delete;
    NetnsRuntime& operator=(const NetnsRuntime&) = delete;

    const std::string& root() const { return root_.path(); }
    // hutch-oci in the namespace. nsenter joins only the network namespace: `ip netns exec`
    // would also remount /sys, and the cgroup hierarchies under it with it.
    CommandResult operator()(const std::vector<std::string>& args) const {
        std::vector<std::string> argv = {"nsenter", "--net=/run/netns/" + name_, HUTCH_OCI_BINARY, "--root",
                                         root()};
        argv.insert(argv.end(), args.begin(), args.end());
        return run_command(argv);
    }
    // `ip -n NAME ARGS...`; the namespace's own for "netns" commands.
    CommandResult ip(std::vector<std::string> args) const {
        if (args.front() != "netns") args.insert(args.begin(), {"-n", name_});
        args.insert(args.begin(), "ip");
        return run_command(args);
    }
    bool has_link(const std::string& name) const { return ip({"link", "show", name}).status == 0; }
    // The pid `state` gives, 0 when it gives none.
    pid_t state_pid(const std::string& id) const {
        auto state = nlohmann::json::parse((*this)({"state", id}).out, nullptr, false);
        return state.is_object() && state["pid"].is_number() ? state["pid"].get<pid_t>() : 0;
    }
    // A veth pair in the namespace: `name` to move, and its peer, which stays.
    void add_veth(const std::string& name) const {
        auto r = ip({"link", "add", name, "type", "veth", "peer", "name", name + "p"});
        if (r.status != 0) throw std::runtime_error("ip link add " + name + ": " + r.err);
    }

private:
    TempDir root_{"hutch-test-root"};
    std::string name_;
};

void set_net_devices(Bundle& bundle, const nlohmann::json& devices) {
    bundle.config["linux"]["netDevices"] = devices;
    bundle.save();
}

bool no_container_left(const NetnsRuntime& rt) {
    return rt({"list", "--quiet"}).out.empty() && std::filesystem::is_empty(rt.root());
}

}  // namespace

TEST_CASE("linux.netDevices: the interface is in the container, renamed, before it starts; back on delete",
          "[netdevices]") {
    Bundle bundle;  // before the runtime: the container goes before its rootfs
    NetnsRuntime rt;
    rt.add_veth("d0");
    // What the process saw when it started, kept for exec to read (the root is read-only).
    bundle.set_args({"sh", "-c", "ls /sys/class/net > /dev/shm/at-start; exec sleep 1000"});
    set_net_devices(bundle, {{"d0", {{"name", "ctr0"}}}});
    std::string id = unique_id();
    auto created = rt({"create", "--bundle", bundle.path(), id});
    REQUIRE(created.err == "");
    REQUIRE(created.status == 0);
    CHECK_FALSE(rt.has_link("d0"));
    CHECK(rt.has_link("d0p"));
    REQUIRE(rt({"start", id}).status == 0);
    auto seen = rt({"exec", id, "sh", "-c",
                    "while [ ! -s /dev/shm/at-start ]; do sleep 0.1; done; cat /dev/shm/at-start"});
    CHECK(seen.out == "ctr0\nlo\n");

    auto deleted = rt({"delete", "--force", id});
    CHECK(deleted.err == "");
    REQUIRE(deleted.status == 0);
    CHECK(rt.has_link("d0"));
    CHECK_FALSE(rt.has_link("ctr0"));
}

TEST_CASE("linux.netDevices: addresses given by hand go with the interface, both ways; others do not",
          "[netdevices]") {
    Bundle bundle;
    NetnsRuntime rt;
    rt.add_veth("d0");
    auto add = [&](std::vector<std::string> address) {
        address.insert(address.begin(), {"address", "add"});
        address.insert(address.end(), {"dev", "d0"});
        auto r = rt.ip(address);
        REQUIRE(r.err == "");
    };
    add({"10.99.0.1/24"});
    add({"fd00:99::1/64", "nodad"});
    add({"10.98.0.1/24", "valid_lft", "600", "preferred_lft", "600"});  // a lifetime: not permanent
    add({"10.97.0.1/24", "scope", "link"});                             // not of global scope
    bundle.set_args({"sleep", "1000"});
    set_net_devices(bundle, {{"d0", {{"name", "ctr0"}}}});
    std::string id = unique_id();
    auto created = rt({"create", "--bundle", bundle.path(), id});
    REQUIRE(created.err == "");
    REQUIRE(created.status == 0);
    std::string pid = std::to_string(rt.state_pid(id));
    auto inside = run_command(
        {"nsenter", "--net=/proc/" + pid + "/ns/net", "ip", "-o", "address", "show", "dev", "ctr0"});
    INFO(inside.out);
    CHECK(inside.out.find("inet 10.99.0.1/24") != std::string::npos);
    CHECK(inside.out.find("inet6 fd00:99::1/64") != std::string::npos);
    CHECK(inside.out.find("10.98.0.1") == std::string::npos);
    CHECK(inside.out.find("10.97.0.1") == std::string::npos);

    // Given a new one inside, it comes back with it.
    auto added = run_command(
        {"nsenter", "--net=/proc/" + pid + "/ns/net", "ip", "address", "add", "10.96.0.1/24", "dev", "ctr0"});
    REQUIRE(added.err == "");
    REQUIRE(rt({"delete", "--force", id}).status == 0);
    auto back = rt.ip({"-o", "address", "show", "dev", "d0"});
    INFO(back.out);
    CHECK(back.out.find("inet 10.99.0.1/24") != std::string::npos);
    CHECK(back.out.find("inet 10.96.0.1/24") != std::string::npos);
    CHECK(back.out.find("inet6 fd00:99::1/64") != std::string::npos);
}

TEST_CASE("linux.netDevices: run in the foreground gives the interface back when the container ends",
          "[netdevices]") {
    Bundle bundle;
    NetnsRuntime rt;
    rt.add_veth("d0");
    bundle.set_args({"ls", "/sys/class/net"});
    set_net_devices(bundle, {{"d0", {{"name", "ctr0"}}}});
    auto r = rt({"run", "--bundle", bundle.path(), unique_id()});
    INFO(r.err);
    CHECK(r.status == 0);
    CHECK(r.out == "ctr0\nlo\n");
    // A veth would have died with the container's namespace.
    CHECK(rt.has_link("d0"));
    CHECK(no_container_left(rt));
}

TEST_CASE("linux.netDevices: an interface that is not there fails create in one line, leaving nothing",
          "[netdevices]") {
    Bundle bundle;
    NetnsRuntime rt;
    rt.add_veth("d0");
    bundle.set_args({"true"});
    set_net_devices(bundle, {{"d0", {{"name", "ctr0"}}}, {"nope0", nlohmann::json::object()}});
    auto r = rt({"create", "--bundle", bundle.path(), unique_id()});
    CHECK(r.status != 0);
    CHECK(r.err.find("linux.netDevices[\"nope0\"]: no interface nope0 in the runtime's network namespace") !=
          std::string::npos);
    CHECK(r.err.find('\n') == r.err.size() - 1);
    CHECK(rt.has_link("d0"));
    CHECK(no_container_left(rt));
}

TEST_CASE("linux.netDevices: a move the kernel refuses fails create, and those moved come back",
          "[netdevices]") {
    Bundle bundle;
    NetnsRuntime rt;
    rt.add_veth("d0");
    rt.add_veth("d1");
    bundle.set_args({"true"});
    // d0 moves first (in name order); d1 cannot be named "lo" in a namespace that has one.
    set_net_devices(bundle, {{"d0", {{"name", "ctr0"}}}, {"d1", {{"name", "lo"}}}});
    auto r = rt({"create", "--bundle", bundle.path(), unique_id()});
    CHECK(r.status != 0);
    CHECK(r.err.find("linux.netDevices[\"d1\"]: move into the container's network namespace") !=
          std::string::npos);
    CHECK(r.err.find("File exists") != std::string::npos);
    CHECK(r.err.find('\n') == r.err.size() - 1);
    CHECK(rt.has_link("d0"));
    CHECK(rt.has_link("d1"));
    CHECK(no_container_left(rt));
}

TEST_CASE("linux.netDevices: a state.json saved before netDevices still loads and deletes", "[netdevices]") {
    Bundle bundle;
    Runtime rt;
    bundle.set_args({"sleep", "1000"});
    bundle.save();
    std::string id = unique_id();
    REQUIRE(rt({"create", "--bundle", bundle.path(), id}).status == 0);
    const std::string path = rt.root() + "/" + id + "/state.json";
    auto state = nlohmann::json::parse(std::ifstream(path));
    REQUIRE(state.contains("net_devices"));
    state.erase("net_devices");
    state.erase("net_namespace_path");
    std::ofstream(path) << state.dump();
    CHECK(rt.state(id).value("status", "") == "created");
    auto deleted = rt({"delete", id});
    CHECK(deleted.err == "");
    CHECK(deleted.status == 0);
}
