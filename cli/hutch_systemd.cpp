// hutch-systemd: hutch-oci's helper for --systemd-cgroup. It makes the D-Bus calls to systemd
// that the static hutch-oci cannot (Debian ships no static libsystemd), one request per run; the
// protocol is in cgroups/systemd_protocol.h. A thin marshaller: what to ask systemd for is decided
// on hutch-oci's side.
//
// Usage: hutch-systemd start|set|stop|ping < REQUEST.json
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string_view>

#include "cgroups/systemd_bus/bus.h"

namespace {

using namespace hutch;
using hutch::cgroups::systemd::Request;

constexpr const char* kUsage =
    "usage: hutch-systemd start|set|stop|ping < REQUEST.json (see cgroups/systemd_protocol.h)";

ErrorOr<Request> read_request() {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    auto json = nlohmann::json::parse(text, nullptr, false);
    if (json.is_discarded()) return fail("hutch-systemd: the request on stdin is not JSON");
    return TRY_CTX(cgroups::systemd::request_from_json(json), "hutch-systemd");
}

ErrorOr<systemd_bus::Outcome> act(std::string_view verb, sd_bus* bus, const Request& request) {
    if (verb == "start") return systemd_bus::start_unit(bus, request);
    if (verb == "set") return systemd_bus::set_unit_properties(bus, request);
    if (verb == "ping") return systemd_bus::Outcome{"", "reachable"};
    return systemd_bus::stop_unit(bus, request);
}

ErrorOr<nlohmann::json> run(std::string_view verb) {
    auto started = std::chrono::steady_clock::now();
    Request request = TRY(read_request());
    systemd_bus::Connection connection = TRY(systemd_bus::connect_systemd());
    systemd_bus::Outcome outcome = TRY(act(verb, connection.bus.get(), request));
    auto elapsed = std::chrono::steady_clock::now() - started;
    return nlohmann::json{
        {"unit", request.unit},
        {"job", outcome.job},
        {"result", outcome.result},
        {"bus", connection.via},
        {"elapsed_us", std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count()}};
}

}  // namespace

int main(int argc, char** argv) {
    std::string_view verb = argc == 2 ? argv[1] : "";
    if (verb == "--help" || verb == "-h") {
        std::cout << kUsage << "\n";
        return 0;
    }
    if (verb != "start" && verb != "set" && verb != "stop" && verb != "ping") {
        std::cerr << "hutch-systemd: "
                  << (argc == 2 ? "unknown verb " + std::string(verb) : "one verb expected") << "; " << kUsage
                  << "\n";
        return 2;
    }
    auto answer = run(verb);
    if (!answer) {
        std::cerr << answer.error().message << "\n";
        return 1;
    }
    std::cout << answer->dump() << "\n";
    return 0;
}
