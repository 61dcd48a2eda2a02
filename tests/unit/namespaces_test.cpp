// The namespace plan: which namespaces clone3() makes, which the child joins, and which it
// unshares itself. Pure functions over the spec (no joins by path here).
#include "namespaces/namespaces.h"

#include <sched.h>

#include <catch2/catch.hpp>

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

TEST_CASE("a new network namespace is unshared by the child, not made by clone3", "[namespaces]") {
    auto p = namespaces::plan(spec_with({NamespaceType::pid, NamespaceType::network, NamespaceType::mount}))
                 .value();
    CHECK(p.clone_flags == (CLONE_NEWPID | CLONE_NEWNS));
    CHECK(p.unshare_flags == CLONE_NEWNET);
    CHECK_FALSE(p.new_user);
}

TEST_CASE("with a new user namespace, the child unshares the network namespace inside it", "[namespaces]") {
    auto p = namespaces::plan(spec_with({NamespaceType::user, NamespaceType::network, NamespaceType::mount}))
                 .value();
    CHECK(p.clone_flags == (CLONE_NEWUSER | CLONE_NEWNS));
    CHECK(p.unshare_flags == CLONE_NEWNET);
    CHECK(p.new_user);
}

TEST_CASE("no network namespace, or a joined one: nothing to unshare", "[namespaces]") {
    auto none = namespaces::plan(spec_with({NamespaceType::mount})).value();
    CHECK(none.unshare_flags == 0);
    CHECK(none.clone_flags == CLONE_NEWNS);
    CHECK(namespaces::plan(spec::Spec{}).value().unshare_flags == 0);
}
