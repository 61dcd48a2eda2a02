// `state` and `list`: what the kernel says about each container, in runc's JSON.
#include <dirent.h>

#include <algorithm>

#include "base/directory.h"
#include "base/json.h"
#include "runtime/runtime.h"

namespace hutch::runtime {

ErrorOr<std::string> state(const std::string& root, const std::string& id) {
    auto container = TRY(Container::open(root, id));
    return json_text(container.runc_state(), 2);
}

ErrorOr<std::vector<nlohmann::ordered_json>> list(const std::string& root) {
    std::vector<nlohmann::ordered_json> out;
    auto entries = list_directory(root);
    if (!entries && entries.error().code == ENOENT) return out;  // nothing was ever created under this root
    std::vector<std::string> ids;
    for (const auto& [name, type] : TRY(std::move(entries)))
        if (type == DT_DIR && !name.starts_with('.')) ids.push_back(name);
    std::sort(ids.begin(), ids.end());
    for (const auto& id : ids) {
        auto container = Container::open(root, id);
        if (container) out.push_back(container->runc_state());  // half-created ones are skipped
    }
    return out;
}

}  // namespace hutch::runtime
