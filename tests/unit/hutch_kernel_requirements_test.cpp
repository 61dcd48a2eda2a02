// The automatic microVM fallback's pure half (cli/hutch/kernel_requirements.h): an image's kernel
// labels, kernel versions and configs, and the backend chosen for each --vm mode; and the
// kernel facts read from files (kernel_facts.h), which need no root either.
#include <sys/utsname.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "base/file.h"
#include "cli/hutch/kernel_facts.h"
#include "cli/hutch/kernel_requirements.h"
#include "store_dir.h"

using namespace hutch;
using namespace hutch::cli;

namespace {

KernelVersion version(long major, long minor, long patch = 0) { return {major, minor, patch}; }

ErrorOr<KernelRequirements> needs_of(std::map<std::string, std::string> labels) {
    return parse_kernel_requirements(labels);
}

KernelFacts kernel(std::optional<KernelVersion> v, std::optional<std::string> config_text,
                   std::string name = "this host's kernel") {
    KernelFacts facts;
    facts.name = std::move(name);
    facts.version = v;
    if (!v) facts.version_error = "uname failed";
    if (config_text)
        facts.config = parse_kernel_config(*config_text);
    else
        facts.config_error = "/proc/config.gz: No such file or directory";
    return facts;
}

const std::string kHostConfig =
    "#\n# Linux/x86 6.1.0 Kernel Configuration\n#\nCONFIG_IO_URING=y\nCONFIG_BTRFS_FS=m\n"
    "# CONFIG_BPF_LSM is not set\nCONFIG_NR_CPUS=64\nCONFIG_LSM=\"landlock,yama\"\n";
const std::string kGuestConfig =
    "# Linux/x86_64 6.1.192 Kernel Configuration\nCONFIG_IO_URING=y\nCONFIG_BPF_LSM=y\nCONFIG_BTRFS_FS=y\n";

// A choice with the host and guest given; counts the calls to each, which must be lazy.
struct Chooser {
    KernelFacts host = kernel(version(6, 1, 0), kHostConfig);
    ErrorOr<KernelFacts> guest = kernel(version(6, 1, 192), kGuestConfig, "the microVM's kernel (vmlinux)");
    int host_reads = 0, guest_reads = 0;

    ErrorOr<BackendChoice> operator()(VmMode mode, const KernelRequirements& needs) {
        return choose_backend(
            mode, "img", needs,
            [&] {
                ++host_reads;
                return host;
            },
            [&] {
                ++guest_reads;
                return guest;
            });
    }
};

}  // namespace

TEST_CASE("kernel requirements: the labels, parsed strictly", "[kernel-requirements]") {
    auto none = needs_of({{"org.opencontainers.image.title", "x"}});
    REQUIRE(none);
    CHECK(none->empty());

    auto both = needs_of({{"org.hutch.kernel.min-version", "6.8"},
                          {"org.hutch.kernel.config", "CONFIG_BPF_LSM, CONFIG_IO_URING=y,CONFIG_9P_FS"}});
    REQUIRE(both);
    CHECK(both->min_version == version(6, 8, 0));
    REQUIRE(both->options.size() == 3);
    CHECK(both->options[0].name == "CONFIG_BPF_LSM");
    CHECK_FALSE(both->options[0].builtin);
    CHECK(both->options[1].name == "CONFIG_IO_URING");
    CHECK(both->options[1].builtin);
    CHECK(both->options[2].str() == "CONFIG_9P_FS");
    CHECK(needs_of({{"org.hutch.kernel.min-version", "6.8.2"}})->min_version == version(6, 8, 2));

    for (std::string bad :
         {"", "6", "6.", "6.8.", "v6.8", "6.8-rc1", "6.8.2.1", " 6.8", "six", "6.1234567"}) {
        auto r = needs_of({{"org.hutch.kernel.min-version", bad}});
        INFO(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().message.starts_with("image label org.hutch.kernel.min-version: \"" + bad + "\""));
    }
    for (std::string bad : {"", "BPF_LSM", "CONFIG_", "CONFIG_X,", ",CONFIG_X", "CONFIG_X=m", "CONFIG_X=n",
                            "CONFIG_A-B", "CONFIG_X CONFIG_Y"}) {
        auto r = needs_of({{"org.hutch.kernel.config", bad}});
        INFO(bad);
        REQUIRE_FALSE(r);
        CHECK(r.error().message.starts_with("image label org.hutch.kernel.config: "));
        CHECK(r.error().message.find("is not CONFIG_NAME or CONFIG_NAME=y") != std::string::npos);
    }
    // Whatever an image sends is quoted short, on one line's worth.
    auto long_one = needs_of({{"org.hutch.kernel.config", std::string(10000, 'x')}});
    REQUIRE_FALSE(long_one);
    CHECK(long_one.error().message.size() < 200);
}

TEST_CASE("kernel requirements: versions, from uname's release and compared", "[kernel-requirements]") {
    CHECK(parse_kernel_release("6.1.0-18-amd64").value() == version(6, 1, 0));
    CHECK(parse_kernel_release("6.18.44-fc-v669").value() == version(6, 18, 44));
    CHECK(parse_kernel_release("6.8-rc1").value() == version(6, 8, 0));
    CHECK(parse_kernel_release("5.15.0+").value() == version(5, 15, 0));
    CHECK_FALSE(parse_kernel_release("6"));
    CHECK_FALSE(parse_kernel_release("linux-6.1"));
    CHECK_FALSE(parse_kernel_release(""));

    CHECK(version(6, 1, 0) < version(6, 8));
    CHECK(version(6, 10) > version(6, 9));
    CHECK(version(6, 8, 2) > version(6, 8));
    CHECK(version(7, 0) > version(6, 18, 44));
    CHECK(version(6, 8) == parse_label_version("6.8.0").value());
    CHECK(version(6, 1, 0).str() == "6.1.0");
}

TEST_CASE("kernel requirements: what a kernel's config has", "[kernel-requirements]") {
    KernelConfig config = parse_kernel_config(kHostConfig);
    CHECK(config.version == version(6, 1, 0));
    CHECK(config.values.at("CONFIG_IO_URING") == "y");
    CHECK(config.values.at("CONFIG_LSM") == "\"landlock,yama\"");
    CHECK_FALSE(config.values.contains("CONFIG_BPF_LSM"));
    CHECK_FALSE(parse_kernel_config("CONFIG_X=y\n").version);

    KernelFacts host = kernel(version(6, 1, 0), kHostConfig);
    auto shortfall = [&](std::map<std::string, std::string> labels) {
        return first_shortfall(needs_of(std::move(labels)).value(), host);
    };
    CHECK_FALSE(shortfall({{"org.hutch.kernel.config", "CONFIG_IO_URING=y,CONFIG_BTRFS_FS"}}));
    CHECK_FALSE(shortfall({{"org.hutch.kernel.min-version", "6.1"}}));
    CHECK(shortfall({{"org.hutch.kernel.config", "CONFIG_IO_URING,CONFIG_BPF_LSM"}})->str() ==
          "CONFIG_BPF_LSM, which this host's kernel lacks");  // "is not set"
    CHECK(shortfall({{"org.hutch.kernel.config", "CONFIG_NOT_THERE"}})->str() ==
          "CONFIG_NOT_THERE, which this host's kernel lacks");                                    // absent
    CHECK(shortfall({{"org.hutch.kernel.config", "CONFIG_NR_CPUS"}})->need == "CONFIG_NR_CPUS");  // not y/m
    CHECK(shortfall({{"org.hutch.kernel.config", "CONFIG_BTRFS_FS=y"}})->str() ==
          "CONFIG_BTRFS_FS=y, which this host's kernel has only as a module");
    CHECK(shortfall({{"org.hutch.kernel.min-version", "6.8"}})->str() ==
          "kernel >= 6.8.0, and this host's kernel is 6.1.0");

    // A config that cannot be read satisfies no option, and says why; a version needs no config.
    KernelFacts unread = kernel(version(6, 1, 0), std::nullopt);
    auto needs = needs_of({{"org.hutch.kernel.config", "CONFIG_IO_URING"}}).value();
    CHECK(first_shortfall(needs, unread)->str() ==
          "CONFIG_IO_URING, and the config of this host's kernel cannot be read "
          "(/proc/config.gz: No such file or directory)");
    CHECK_FALSE(first_shortfall(needs_of({{"org.hutch.kernel.min-version", "6.1"}}).value(), unread));
    CHECK(first_shortfall(needs_of({{"org.hutch.kernel.min-version", "6.1"}}).value(),
                          kernel(std::nullopt, kHostConfig))
              ->reason == "and the version of this host's kernel is unknown (uname failed)");
}

TEST_CASE("kernel requirements: the backend for auto, always and never", "[kernel-requirements]") {
    auto plain = needs_of({}).value();
    auto met = needs_of({{"org.hutch.kernel.config", "CONFIG_IO_URING"}}).value();
    auto unmet = needs_of({{"org.hutch.kernel.config", "CONFIG_BPF_LSM"}}).value();
    auto unmet_anywhere = needs_of({{"org.hutch.kernel.min-version", "6.8"}}).value();

    SECTION("an image that declares nothing: no kernel is read") {
        Chooser choose;
        CHECK(choose(VmMode::automatic, plain)->backend == Backend::host);
        CHECK(choose(VmMode::never, plain)->backend == Backend::host);
        auto always = choose(VmMode::always, plain);
        CHECK(always->backend == Backend::microvm);
        CHECK(always->notice.empty());
        CHECK(choose.host_reads + choose.guest_reads == 0);
    }
    SECTION("the host has what it needs: the host, without a word") {
        Chooser choose;
        for (auto mode : {VmMode::automatic, VmMode::never}) {
            auto choice = choose(mode, met);
            CHECK(choice->backend == Backend::host);
            CHECK(choice->notice.empty());
        }
        CHECK(choose.guest_reads == 0);
        CHECK(choose(VmMode::always, met)->backend == Backend::microvm);
        CHECK(choose.host_reads == 2);  // always does not ask the host
    }
    SECTION("the host lacks it: auto falls back with a notice, never refuses") {
        Chooser choose;
        auto fallback = choose(VmMode::automatic, unmet);
        REQUIRE(fallback);
        CHECK(fallback->backend == Backend::microvm);
        CHECK(fallback->notice ==
              "running img in a microVM: it needs CONFIG_BPF_LSM, which this host's kernel lacks");
        auto never = choose(VmMode::never, unmet);
        REQUIRE_FALSE(never);
        CHECK(never.error().message ==
              "img cannot run on this host: it needs CONFIG_BPF_LSM, which this host's kernel lacks "
              "(and --vm=never rules out a microVM)");
        CHECK(choose.guest_reads == 1);
    }
    SECTION("the host's config cannot be read: auto takes the microVM, saying why") {
        Chooser choose;
        choose.host = kernel(version(6, 1, 0), std::nullopt);
        auto choice = choose(VmMode::automatic, met);
        CHECK(choice->backend == Backend::microvm);
        CHECK(choice->notice.find("the config of this host's kernel cannot be read") != std::string::npos);
        CHECK_FALSE(choose(VmMode::never, met));
    }
    SECTION("the guest kernel lacks it too: refused, never run where it cannot work") {
        Chooser choose;
        auto both = choose(VmMode::automatic, unmet_anywhere);
        REQUIRE_FALSE(both);
        CHECK(both.error().message ==
              "img cannot run on this host: it needs kernel >= 6.8.0, and this host's kernel is 6.1.0; nor "
              "in a "
              "microVM: it needs kernel >= 6.8.0, and the microVM's kernel (vmlinux) is 6.1.192");
        auto always = choose(VmMode::always, unmet_anywhere);
        REQUIRE_FALSE(always);
        CHECK(always.error().message.starts_with("img cannot run in a microVM: it needs kernel >= 6.8.0"));
    }
    SECTION("no guest kernel known: the fallback says what it lacks") {
        Chooser choose;
        choose.guest = fail("--vm needs the guest kernel's vmlinux");
        auto choice = choose(VmMode::automatic, unmet);
        REQUIRE_FALSE(choice);
        CHECK(
            choice.error().message ==
            "img cannot run on this host: it needs CONFIG_BPF_LSM, which this host's kernel lacks; and for a "
            "microVM: --vm needs the guest kernel's vmlinux");
    }
    SECTION("--vm's values") {
        CHECK(parse_vm_mode("auto").value() == VmMode::automatic);
        CHECK(parse_vm_mode("always").value() == VmMode::always);
        CHECK(parse_vm_mode("never").value() == VmMode::never);
        for (const char* bad : {"", "yes", "true", "Always"}) CHECK_FALSE(parse_vm_mode(bad));
    }
}

TEST_CASE("kernel requirements: the facts of this host's kernel and of a guest kernel's config",
          "[kernel-requirements]") {
    struct utsname uts {};
    REQUIRE(::uname(&uts) == 0);
    KernelFacts host = host_kernel_facts(false);
    CHECK(host.version == parse_kernel_release(uts.release).value());
    CHECK_FALSE(host.config);  // not asked for

    // Where the host has a config to read, it is read (through ISA-L's inflate for config.gz).
    bool readable = ::access("/proc/config.gz", R_OK) == 0 ||
                    ::access(("/boot/config-" + std::string(uts.release)).c_str(), R_OK) == 0;
    KernelFacts with_config = host_kernel_facts(true);
    CHECK(with_config.config.has_value() == readable);
    if (with_config.config)
        CHECK(with_config.config->values.size() > 100);
    else
        CHECK(with_config.config_error.find("/proc/config.gz") != std::string::npos);

    test::StoreDir store;
    std::string dir = store.root().substr(0, store.root().rfind('/'));  // the test's own, empty
    KernelFacts absent = guest_kernel_facts(dir + "/vmlinux");
    CHECK_FALSE(absent.config);
    CHECK_FALSE(absent.version);
    CHECK(absent.config_error.find(dir + "/config") != std::string::npos);
    REQUIRE(write_file_atomic(dir + "/config", kGuestConfig));
    KernelFacts guest = guest_kernel_facts(dir + "/vmlinux");
    CHECK(guest.name == "the microVM's kernel (" + dir + "/vmlinux)");
    CHECK(guest.version == version(6, 1, 192));
    REQUIRE(guest.config);
    CHECK(guest.config->values.at("CONFIG_BPF_LSM") == "y");
}
