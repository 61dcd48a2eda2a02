// hutch login and logout against a real registry (Debian's docker-registry on 127.0.0.1, with
// htpasswd basic auth), and a pull that finds the saved credentials in the default auth file
// ($REGISTRY_AUTH_FILE, as podman's).
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "harness.h"
#include "hutch_command.h"
#include "images_registry.h"

using namespace hutch::test;

namespace {

// hutch with REGISTRY_AUTH_FILE=auth_file in its environment.
CommandResult hutch_with_auth(const TempDir& root, const std::string& auth_file,
                              std::vector<std::string> args, const std::string& stdin_data = "") {
    args.insert(args.begin(), {"env", "REGISTRY_AUTH_FILE=" + auth_file, HUTCH_BINARY, "--storage-root",
                               root.path() + "/storage"});
    return run_command(args, stdin_data);
}

}  // namespace

TEST_CASE("hutch login checks credentials on the registry, saves them for pull; logout removes them",
          "[hutch-images-io]") {
    LocalRegistry registry({.user = "hutch", .password = "s3cret"});
    TestImage image("behind a login\n");
    TempDir dir, root;
    {
        // skopeo pushes with the credentials hutch saved in an auth file of its own: the file is
        // one that containers' tools read.
        std::string push_auth = dir.path() + "/push.json";
        REQUIRE(hutch_with_auth(
                    root, push_auth,
                    {"login", "-u", "hutch", "-p", "s3cret", "--authfile", push_auth, registry.address()})
                    .status == 0);
        auto pushed = run_command({"skopeo", "--insecure-policy", "copy", "--preserve-digests",
                                   "--dest-tls-verify=false", "--dest-authfile", push_auth,
                                   "oci:" + image.dir.path() + ":latest",
                                   "docker://" + registry.address() + "/test/private:latest"});
        INFO(pushed.err);
        REQUIRE(pushed.status == 0);
    }
    std::string auth_file = dir.path() + "/run/containers/auth.json";
    std::string name = registry.address() + "/test/private:latest";

    auto anonymous = hutch_with_auth(root, auth_file, {"pull", name});
    check_one_line_failure(anonymous);
    CHECK(anonymous.err.find("authentication required") != std::string::npos);

    auto wrong =
        hutch_with_auth(root, auth_file, {"login", "-u", "hutch", "-p", "wrong", registry.address()});
    check_one_line_failure(wrong);
    CHECK(wrong.err.find("authentication refused") != std::string::npos);
    CHECK_FALSE(path_exists(auth_file));

    auto login = hutch_with_auth(
        root, auth_file, {"login", "-u", "hutch", "--password-stdin", registry.address()}, "s3cret\n");
    check_ok(login);
    CHECK(login.out == "Login Succeeded!\n");
    struct stat st {};
    REQUIRE(stat(auth_file.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    CHECK(read_text(auth_file).find(registry.address()) != std::string::npos);

    auto pulled = hutch_with_auth(root, auth_file, {"pull", name});
    check_ok(pulled);
    CHECK(pulled.out == image.manifest_digest + "\n");

    auto logout = hutch_with_auth(root, auth_file, {"logout", registry.address()});
    check_ok(logout);
    CHECK(logout.out == "Removed login credentials for " + registry.address() + "\n");
    check_ok(hutch_with_auth(root, auth_file, {"rmi", name}));
    check_one_line_failure(hutch_with_auth(root, auth_file, {"pull", name}));
    auto again = hutch_with_auth(root, auth_file, {"logout", registry.address()});
    check_one_line_failure(again);
    CHECK(again.err.find("not logged in to " + registry.address()) != std::string::npos);

    check_ok(hutch_with_auth(root, auth_file, {"login", "-u", "hutch", "-p", "s3cret", registry.address()}));
    check_ok(hutch_with_auth(root, auth_file, {"logout", "--all"}));
    CHECK(read_text(auth_file).find(registry.address()) == std::string::npos);
    check_one_line_failure(hutch_with_auth(root, auth_file, {"login", "-u", "hutch", registry.address()}));
}
