// images/unpack.h against the real kernel, as root: a layer with every kind of entry unpacks
// with its owners, modes, mtimes, xattrs, devices and hardlinks; gzip, zstd and plain give one
// tree and one diffID; whiteouts work in both modes; and hostile entries are refused without
// touching anything outside the root (a sentinel directory beside it is checked every time).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "base/fd.h"
#include "harness.h"
#include "images/digest.h"
#include "images/unpack.h"
#include "images_layers.h"

using namespace hutch;
using namespace hutch::images;
using namespace hutch::test;
namespace fs = std::filesystem;

namespace {

// A layer root, with a sentinel directory beside it that no layer may reach.
class UnpackDir {
public:
    UnpackDir() {
        fs::create_directory(root());
        fs::create_directory(sentinel());
        std::ofstream(sentinel() + "/file") << "sentinel";
        root_fd_.reset(open(root().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        REQUIRE(root_fd_);
        before_ = describe_tree(dir_.path());
    }
    std::string root() const { return dir_.path() + "/root"; }
    std::string sentinel() const { return dir_.path() + "/sentinel"; }
    int root_fd() const { return root_fd_.get(); }

    ErrorOr<Digest> unpack(const std::string& layer, const UnpackOptions& options = {}) const {
        UniqueFd fd(memory_fd(layer));
        return unpack_layer(fd.get(), root_fd(), options);
    }
    // Everything outside root/ as it was before any unpack.
    void check_outside_unchanged() const {
        auto outside = [](std::map<std::string, std::string> tree) {
            std::erase_if(tree, [](const auto& item) {
                return item.first == "root" || item.first.starts_with("root/");
            });
            return tree;
        };
        CHECK(tree_difference(outside(describe_tree(dir_.path())), outside(before_)) == "");
    }

private:
    TempDir dir_{"hutch-test-unpack"};
    UniqueFd root_fd_;
    std::map<std::string, std::string> before_;
};

std::string one_line_error(const ErrorOr<Digest>& result) {
    REQUIRE_FALSE(result);
    INFO(result.error().message);
    CHECK(result.error().message.find('\n') == std::string::npos);
    return result.error().message;
}

struct stat lstat_of(const std::string& path) {
    struct stat st {};
    REQUIRE(lstat(path.c_str(), &st) == 0);
    return st;
}

std::string xattr_of(const std::string& path, const std::string& name) {
    char value[256];
    ssize_t n = lgetxattr(path.c_str(), name.c_str(), value, sizeof(value));
    return n < 0 ? std::string("(none)") : std::string(value, static_cast<size_t>(n));
}

std::string text_of(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// security.capability, VFS_CAP_REVISION_2: effective, cap_net_bind_service permitted.
std::string net_bind_capability() {
    std::string cap(20, '\0');
    cap[0] = 0x01, cap[3] = 0x02;  // magic_etc 0x02000001, little-endian
    cap[5] = 0x04;                 // permitted[0] = 1 << 10
    return cap;
}

// Whether the filesystem of the test's directories takes user.* xattrs: tmpfs does only since
// Linux 6.6 (the VM test bed's /tmp is one on 6.1).
bool user_xattrs_supported() {
    TempDir dir("hutch-test-xattr");
    std::string file = dir.path() + "/probe";
    std::ofstream(file) << "probe";
    return setxattr(file.c_str(), "user.probe", "1", 1, 0) == 0;
}

std::vector<LayerEntry> every_kind_of_entry() {
    std::vector<std::pair<std::string, std::string>> xattrs = {
        {"security.capability", net_bind_capability()}};
    if (user_xattrs_supported())
        xattrs.emplace_back("user.note", "hello");
    else
        WARN(
            "user.* xattrs not checked: the test's directory is on a filesystem without them (tmpfs before "
            "6.6)");
    return {
        {.name = "./", .type = AE_IFDIR, .mode = 0755},
        {.name = "dir/", .type = AE_IFDIR, .mode = 0750, .uid = 1000, .gid = 1001, .mtime = 1600000000},
        {.name = "dir/file",
         .mode = 04755,
         .content = "content\n",
         .uid = 0,
         .gid = 0,
         .mtime = 1500000000,
         .xattrs = xattrs},
        {.name = "dir/hardlink", .hardlink = "dir/file"},
        {.name = "dir/symlink",
         .type = AE_IFLNK,
         .mode = 0777,
         .link = "file",
         .uid = 1002,
         .gid = 1003,
         .mtime = 1400000000},
        {.name = "dir/fifo", .type = AE_IFIFO, .mode = 0620, .uid = 5, .gid = 6},
        {.name = "dev/null", .type = AE_IFCHR, .mode = 0666, .major = 1, .minor = 3},
        {.name = "dev/loop9", .type = AE_IFBLK, .mode = 0660, .gid = 6, .major = 7, .minor = 9},
        {.name = "noparent/deep/file", .mode = 0600, .content = "made with its parents", .uid = 7, .gid = 8},
        {.name = "sticky/", .type = AE_IFDIR, .mode = 01777},
    };
}

}  // namespace

TEST_CASE("unpack: every kind of entry keeps its owner, mode, mtime, xattrs, device and inode",
          "[images][unpack]") {
    UnpackDir dir;
    auto layer = make_layer(every_kind_of_entry());
    auto diff_id = dir.unpack(layer);
    REQUIRE(diff_id);
    CHECK(*diff_id == *digest_of(layer));
    std::string r = dir.root();

    auto d = lstat_of(r + "/dir");
    CHECK(S_ISDIR(d.st_mode));
    CHECK((d.st_mode & 07777) == 0750);
    CHECK(d.st_uid == 1000);
    CHECK(d.st_gid == 1001);
    CHECK(d.st_mtim.tv_sec == 1600000000);  // set after its content was written

    auto f = lstat_of(r + "/dir/file");
    CHECK(S_ISREG(f.st_mode));
    CHECK((f.st_mode & 07777) == 04755);  // setuid survives the chown
    CHECK(f.st_mtim.tv_sec == 1500000000);
    CHECK(text_of(r + "/dir/file") == "content\n");
    CHECK(xattr_of(r + "/dir/file", "security.capability") == net_bind_capability());
    if (user_xattrs_supported()) CHECK(xattr_of(r + "/dir/file", "user.note") == "hello");

    auto h = lstat_of(r + "/dir/hardlink");
    CHECK(h.st_ino == f.st_ino);
    CHECK(h.st_nlink == 2);

    auto l = lstat_of(r + "/dir/symlink");
    CHECK(S_ISLNK(l.st_mode));
    CHECK(fs::read_symlink(r + "/dir/symlink") == "file");
    CHECK(l.st_uid == 1002);
    CHECK(l.st_gid == 1003);
    CHECK(l.st_mtim.tv_sec == 1400000000);

    auto p = lstat_of(r + "/dir/fifo");
    CHECK(S_ISFIFO(p.st_mode));
    CHECK((p.st_mode & 07777) == 0620);
    CHECK(p.st_uid == 5);

    auto c = lstat_of(r + "/dev/null");
    CHECK(S_ISCHR(c.st_mode));
    CHECK(c.st_rdev == makedev(1, 3));
    CHECK((c.st_mode & 07777) == 0666);
    auto b = lstat_of(r + "/dev/loop9");
    CHECK(S_ISBLK(b.st_mode));
    CHECK(b.st_rdev == makedev(7, 9));
    CHECK(b.st_gid == 6);

    CHECK(text_of(r + "/noparent/deep/file") == "made with its parents");
    CHECK((lstat_of(r + "/noparent").st_mode & 07777) == 0755);
    CHECK((lstat_of(r + "/sticky").st_mode & 07777) == 01777);
    dir.check_outside_unchanged();
}

TEST_CASE("unpack: plain, gzip and zstd layers give the same tree and the same diffID", "[images][unpack]") {
    auto entries = every_kind_of_entry();
    std::string big(3 * 1024 * 1024, '\0');  // several inflate buffers, and a run of repeats
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) % 251);
    entries.push_back({.name = "big", .content = big});
    // Directories the entries above only implied would get the time of the unpack: give them
    // entries (after their content, which tar allows), so that two unpacks compare equal.
    for (const char* implied : {"dev/", "noparent/", "noparent/deep/"})
        entries.push_back({.name = implied, .type = AE_IFDIR, .mode = 0755});
    auto plain = make_layer(entries, LayerCompression::none);
    auto expected_diff_id = *digest_of(plain);

    UnpackDir reference;
    REQUIRE(reference.unpack(plain) == expected_diff_id);
    auto expected_tree = describe_tree(reference.root());

    for (auto [compression, media_type] :
         {std::pair{LayerCompression::gzip, "application/vnd.oci.image.layer.v1.tar+gzip"},
          std::pair{LayerCompression::zstd, "application/vnd.oci.image.layer.v1.tar+zstd"},
          std::pair{LayerCompression::none, "application/vnd.oci.image.layer.v1.tar"}}) {
        auto layer = make_layer(entries, compression);
        INFO(media_type);
        SECTION(std::string("detected by magic: ") + media_type) {
            UnpackDir dir;
            auto diff_id = dir.unpack(layer);
            REQUIRE(diff_id);
            CHECK(*diff_id == expected_diff_id);
            CHECK(tree_difference(describe_tree(dir.root()), expected_tree) == "");
        }
        SECTION(std::string("by media type: ") + media_type) {
            UnpackDir dir;
            auto diff_id = dir.unpack(layer, {.media_type = media_type});
            REQUIRE(diff_id);
            CHECK(*diff_id == expected_diff_id);
        }
    }
    SECTION("a media type that disagrees with the content is refused") {
        UnpackDir dir;
        auto error =
            one_line_error(dir.unpack(plain, {.media_type = "application/vnd.oci.image.layer.v1.tar+gzip"}));
        CHECK(error == "layer: media type says gzip, content is uncompressed");
        CHECK(fs::is_empty(dir.root()));
    }
    SECTION("a truncated gzip layer is an error, not a short tree") {
        UnpackDir dir;
        auto gz = make_layer(entries, LayerCompression::gzip);
        auto error = one_line_error(dir.unpack(gz.substr(0, gz.size() / 2)));
        CHECK(error.find("gzip") != std::string::npos);
    }
    SECTION("a corrupt zstd layer is an error") {
        UnpackDir dir;
        auto zst = make_layer(entries, LayerCompression::zstd);
        for (size_t i = 100; i < 200; ++i) zst[i] = static_cast<char>(zst[i] ^ 0x5a);
        one_line_error(dir.unpack(zst));
    }
}

TEST_CASE("unpack: a sparse file keeps its size and its holes, up to a hole at its end", "[images][unpack]") {
    // The unpacker writes data blocks at their offsets and extends the file only when the data
    // ends before the size (a hole at the end): both cases, and a file with no hole.
    std::string ends_in_hole(1024 * 1024, '\0');
    std::fill_n(ends_in_hole.begin() + 8192, 4096, 'a');
    std::string ends_in_data(1024 * 1024, '\0');
    std::fill_n(ends_in_data.end() - 4096, 4096, 'b');
    UnpackDir dir;
    auto layer = make_layer({
        {.name = "ends-in-hole", .content = ends_in_hole, .sparse = {{8192, 4096}}},
        {.name = "ends-in-data", .content = ends_in_data, .sparse = {{1024 * 1024 - 4096, 4096}}},
        {.name = "whole", .content = "whole\n"},
    });
    REQUIRE(dir.unpack(layer));
    CHECK(lstat_of(dir.root() + "/ends-in-hole").st_size == 1024 * 1024);
    CHECK(text_of(dir.root() + "/ends-in-hole") == ends_in_hole);
    CHECK(lstat_of(dir.root() + "/ends-in-data").st_size == 1024 * 1024);
    CHECK(text_of(dir.root() + "/ends-in-data") == ends_in_data);
    CHECK(text_of(dir.root() + "/whole") == "whole\n");
    // The holes stay holes: far fewer blocks than the size.
    CHECK(lstat_of(dir.root() + "/ends-in-hole").st_blocks * 512 < 256 * 1024);
}

TEST_CASE("unpack: whiteouts and opaque directories remove lower content in remove mode",
          "[images][unpack]") {
    UnpackDir dir;
    REQUIRE(dir.unpack(make_layer({
        {.name = "a/keep", .content = "keep"},
        {.name = "a/gone", .content = "gone"},
        {.name = "a/gonedir/inner", .content = "inner"},
        {.name = "b/old", .content = "old"},
        {.name = "b/sub/old", .content = "old"},
    })));
    REQUIRE(dir.unpack(make_layer({
        {.name = "a/.wh.gone"},
        {.name = "a/.wh.gonedir"},
        {.name = "a/.wh.never-there"},
        {.name = "b/", .type = AE_IFDIR, .mode = 0755},
        {.name = "b/new", .content = "new"},  // before the marker: this layer's own, kept
        {.name = "b/implied/new", .content = "in a directory made without an entry"},
        {.name = "b/.wh..wh..opq"},
        {.name = "c/x", .content = "same layer"},
        {.name = "c/.wh.x"},  // a whiteout hides lower layers only
        {.name = "nowhere/.wh..wh..opq"},
    })));
    std::string r = dir.root();
    CHECK(fs::exists(r + "/a/keep"));
    CHECK_FALSE(fs::exists(fs::symlink_status(r + "/a/gone")));
    CHECK_FALSE(fs::exists(r + "/a/gonedir"));
    CHECK_FALSE(fs::exists(r + "/a/.wh.gone"));
    CHECK_FALSE(fs::exists(r + "/b/old"));
    CHECK_FALSE(fs::exists(r + "/b/sub"));
    CHECK(text_of(r + "/b/new") == "new");
    CHECK(text_of(r + "/b/implied/new") == "in a directory made without an entry");
    CHECK_FALSE(fs::exists(r + "/b/.wh..wh..opq"));
    CHECK(text_of(r + "/c/x") == "same layer");
    dir.check_outside_unchanged();
}

TEST_CASE("unpack: whiteouts become overlayfs's own in overlay mode", "[images][unpack]") {
    UnpackDir dir;
    REQUIRE(dir.unpack(make_layer({
                           {.name = "a/.wh.gone"},
                           {.name = "b/", .type = AE_IFDIR, .mode = 0755},
                           {.name = "b/.wh..wh..opq"},
                           {.name = "b/new", .content = "new"},
                           {.name = "implied/.wh..wh..opq"},
                       }),
                       {.whiteouts = WhiteoutMode::overlay}));
    std::string r = dir.root();
    auto gone = lstat_of(r + "/a/gone");
    CHECK(S_ISCHR(gone.st_mode));
    CHECK(gone.st_rdev == makedev(0, 0));
    CHECK_FALSE(fs::exists(r + "/a/.wh.gone"));
    CHECK(xattr_of(r + "/b", "trusted.overlay.opaque") == "y");
    CHECK(xattr_of(r + "/implied", "trusted.overlay.opaque") == "y");
    CHECK(xattr_of(r + "/a", "trusted.overlay.opaque") == "(none)");
    CHECK(text_of(r + "/b/new") == "new");
    CHECK_FALSE(fs::exists(r + "/b/.wh..wh..opq"));
}

TEST_CASE("unpack: hostile entries are refused on one line and touch nothing outside the root",
          "[images][unpack][security]") {
    UnpackDir dir;
    auto refused = [&](const std::vector<LayerEntry>& entries, const std::string& expected) {
        auto error = one_line_error(dir.unpack(make_layer(entries)));
        CHECK(error.find(expected) != std::string::npos);
        dir.check_outside_unchanged();
    };
    SECTION("../escape") {
        refused({{.name = "../escape", .content = "x"}},
                "layer entry '../escape': '..' leads out of the layer root");
        CHECK_FALSE(fs::exists(dir.root() + "/../escape"));
    }
    SECTION("a/../../escape") { refused({{.name = "a/../../escape", .content = "x"}}, "'..' leads out"); }
    SECTION("a symlink to outside, then a file written through it") {
        refused({{.name = "link", .type = AE_IFLNK, .link = dir.sentinel()},
                 {.name = "link/file", .content = "evil"}},
                "layer entry 'link/file'");
    }
    SECTION("a relative symlink up and out, then a file through it") {
        refused(
            {{.name = "up", .type = AE_IFLNK, .link = "../sentinel"}, {.name = "up/new", .content = "evil"}},
            "layer entry 'up/new'");
    }
    SECTION("a hardlink to ../../etc/passwd") {
        refused({{.name = "passwd", .hardlink = "../../etc/passwd"}}, "hardlink target: '..' leads out");
    }
    SECTION("a hardlink to a symlink out, then a file written over the hardlink") {
        // linkat links the symlink itself; the file then replaces that link, never follows it.
        auto result =
            dir.unpack(make_layer({{.name = "out", .type = AE_IFLNK, .link = dir.sentinel() + "/file"},
                                   {.name = "hl", .hardlink = "out"},
                                   {.name = "hl", .content = "evil"}}));
        REQUIRE(result);
        CHECK(S_ISLNK(lstat_of(dir.root() + "/out").st_mode));
        CHECK(text_of(dir.root() + "/hl") == "evil");
        CHECK(text_of(dir.sentinel() + "/file") == "sentinel");
        dir.check_outside_unchanged();
    }
    SECTION("a symlink at the final component is replaced, not followed") {
        auto result =
            dir.unpack(make_layer({{.name = "victim", .type = AE_IFLNK, .link = dir.sentinel() + "/file"},
                                   {.name = "victim", .content = "replaced"},
                                   {.name = "dirvictim", .type = AE_IFLNK, .link = dir.sentinel()},
                                   {.name = "dirvictim/", .type = AE_IFDIR, .mode = 0700}}));
        REQUIRE(result);
        CHECK(S_ISREG(lstat_of(dir.root() + "/victim").st_mode));
        CHECK(S_ISDIR(lstat_of(dir.root() + "/dirvictim").st_mode));
        CHECK(text_of(dir.sentinel() + "/file") == "sentinel");
        CHECK((lstat_of(dir.sentinel()).st_mode & 07777) != 0700);
        dir.check_outside_unchanged();
    }
    SECTION("whiteouts of .. and .") {
        refused({{.name = ".wh..."}}, "whiteout of '..' is refused");
        refused({{.name = "a/.wh.."}}, "whiteout of '.' is refused");
        refused({{.name = "a/.wh..wh.foo"}}, "reserved whiteout name");
    }
    SECTION("a file named . (the root itself)") {
        refused({{.name = ".", .content = "x"}}, "names the layer root itself");
        refused({{.name = "./", .type = AE_IFLNK, .link = "/"}}, "names the layer root itself");
    }
    SECTION("an absolute name is made relative to the root, as tar does") {
        auto result = dir.unpack(make_layer({{.name = dir.sentinel() + "/evil", .content = "inside"}}));
        REQUIRE(result);
        CHECK(text_of(dir.root() + dir.sentinel() + "/evil") == "inside");
        CHECK_FALSE(fs::exists(dir.sentinel() + "/evil"));
        dir.check_outside_unchanged();
    }
    SECTION("a symlink in the parent chain resolves inside the root") {
        // abs -> / (the host's root, were it followed): "abs/inside" must land in the layer root.
        auto result = dir.unpack(make_layer({{.name = "abs", .type = AE_IFLNK, .link = "/"},
                                             {.name = "abs/inside", .content = "in the root"}}));
        REQUIRE(result);
        CHECK(text_of(dir.root() + "/inside") == "in the root");
        CHECK_FALSE(fs::exists("/inside"));
        dir.check_outside_unchanged();
    }
    SECTION("garbage is not a layer") {
        auto error = one_line_error(dir.unpack(std::string(4096, 'z')));
        INFO(error);
        CHECK(error == "layer: open tar: Unrecognized archive format");
    }
}
