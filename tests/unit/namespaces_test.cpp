// The namespace plan: which namespaces clone3() makes, which the child joins, and when hutch makes
// the network namespace itself. Pure functions over the spec (no joins by path here).
#include "namespaces/namespaces.h"

#include <sched.h>

#include <catch2/catch.hpp>

#include "namespaces/background_netns.h"

using namespace hutch;
using spec::NamespaceType;

namespace {

spec::Spec spec_with(std::vector<NamespaceType> types) {
    spec::Spec s;
    s.linux_.emplace();
    for (auto t : types) s.linux_->namespaces.push_back({t, ""});
    return s;
}

}  // namespace

TEST_CASE("a new network namespace without a user namespace is made by hutch, not by clone3",
          "[namespaces]") {
    auto s = spec_with({NamespaceType::pid, NamespaceType::network, NamespaceType::mount});
    CHECK(namespaces::parent_makes_netns(s));
    auto p = namespaces::plan(s).value();
    CHECK(p.netns_from_parent);
    CHECK((p.clone_flags & CLONE_NEWNET) == 0);
    CHECK(p.clone_flags == (CLONE_NEWPID | CLONE_NEWNS));
}

TEST_CASE("with a new user namespace, clone3 makes the network namespace inside it", "[namespaces]") {
    auto s = spec_with({NamespaceType::user, NamespaceType::network, NamespaceType::mount});
    CHECK_FALSE(namespaces::parent_makes_netns(s));
    auto p = namespaces::plan(s).value();
    CHECK_FALSE(p.netns_from_parent);
    CHECK((p.clone_flags & CLONE_NEWNET) != 0);
    CHECK(p.new_user);
}

TEST_CASE("no network namespace, or none to make: nothing for hutch to make", "[namespaces]") {
    CHECK_FALSE(namespaces::parent_makes_netns(spec_with({NamespaceType::mount})));
    CHECK_FALSE(namespaces::parent_makes_netns(spec::Spec{}));
    auto joined = spec_with({NamespaceType::mount});
    joined.linux_->namespaces.push_back({NamespaceType::network, "/run/netns/x"});
    CHECK_FALSE(namespaces::parent_makes_netns(joined));
}
