#include <linux/magic.h>
#include <sys/statfs.h>

#include "cgroups/drivers.h"

namespace hutch::cgroups {
namespace {

bool is_cgroup2(const char* path) {
    struct statfs fs {};
    return ::statfs(path, &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

}  // namespace

Layout detect_layout() {
    if (is_cgroup2("/sys/fs/cgroup")) return Layout::v2;
    if (is_cgroup2("/sys/fs/cgroup/unified")) return Layout::hybrid;
    return Layout::v1;
}

const char* layout_name(Layout layout) {
    switch (layout) {
        case Layout::v1: return "v1";
        case Layout::hybrid: return "hybrid";
        case Layout::v2: return "v2";
    }
    return "v1";
}

bool creates_before_clone(Layout layout, const spec::Resources* resources) {
    if (layout == Layout::v2) return true;
    return layout == Layout::hybrid && resources && needs_unified_hierarchy(*resources);
}

}  // namespace hutch::cgroups
