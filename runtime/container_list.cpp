// `state` and `list`: what the kernel says about each container, in runc's JSON.
#include <dirent.h>

#include <algorithm>

#include "base/json.h"
#include "runtime/runtime.h"

namespace hutch::runtime {

ErrorOr<std::string> state(const std::string& root, const std::string& id) {
    auto container = TRY(Container::open(root, id));
    return json_text(container.runc_state(), 2);
}

ErrorOr<std::vector<nlohmann::ordered_json>> list(const std::string& root) {
    std::vector<nlohmann::ordered_json> out;
    DIR* dir = ::opendir(root.c_str());
    if (!dir) {
        if (errno == ENOENT) return out;  // nothing was ever created under this root
        return fail_errno("open " + root);
    }
    std::vector<std::string> ids;
    while (struct dirent* entry = ::readdir(dir))
        if (entry->d_type == DT_DIR && entry->d_name[0] != '.') ids.emplace_back(entry->d_name);
    ::closedir(dir);
    std::sort(ids.begin(), ids.end());
    for (const auto& id : ids) {
        auto container = Container::open(root, id);
        if (container) out.push_back(container->runc_state());  // half-created ones are skipped
    }
    return out;
}

}  // namespace hutch::runtime
