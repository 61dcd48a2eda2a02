// The Manager methods hutch calls: StartTransientUnit, SetUnitProperties, StopUnit and
// ResetFailedUnit, with systemd's errors turned into one line that names the unit.
#include <cstring>

#include "cgroups/systemd_bus/bus.h"

namespace hutch::systemd_bus {
namespace {

using cgroups::systemd::Request;
using std::chrono::steady_clock;

constexpr const char* kService = "org.freedesktop.systemd1";
constexpr const char* kPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr const char* kNoSuchUnit = "org.freedesktop.systemd1.NoSuchUnit";
constexpr const char* kUnitExists = "org.freedesktop.systemd1.UnitExists";

ErrorOr<Message> new_call(sd_bus* bus, const char* method) {
    sd_bus_message* raw = nullptr;
    int r = sd_bus_message_new_method_call(bus, &raw, kService, kPath, kManager, method);
    Message message(raw);
    if (r < 0) return fail(std::string("systemd: ") + method + ": " + std::strerror(-r));
    return message;
}

// Sends call; on failure returns systemd's answer (r < 0) with error set.
int send(sd_bus* bus, const Message& call, const Request& request, BusError& error, Message& reply) {
    sd_bus_message* raw = nullptr;
    int r = sd_bus_call(bus, call.get(), uint64_t{request.timeout_ms} * 1000, &error.error, &raw);
    reply.reset(raw);
    return r;
}

std::string read_job(const Message& reply) {
    const char* job = nullptr;
    return sd_bus_message_read(reply.get(), "o", &job) >= 0 && job ? job : "";
}

// A failed unit stays loaded, its name taken, until this: errors do not matter (not failed, gone).
void reset_failed(sd_bus* bus, const std::string& unit) {
    BusError error;
    sd_bus_call_method(bus, kService, kPath, kManager, "ResetFailedUnit", &error.error, nullptr, "s",
                       unit.c_str());
}

steady_clock::time_point deadline_of(const Request& request) {
    return steady_clock::now() + std::chrono::milliseconds(request.timeout_ms);
}

ErrorOr<Message> start_call(sd_bus* bus, const Request& request) {
    Message call = TRY(new_call(bus, "StartTransientUnit"));
    int r = sd_bus_message_append(call.get(), "ss", request.unit.c_str(), "replace");
    if (r < 0) return fail("systemd: start " + request.unit + ": " + std::strerror(-r));
    TRY_CTX(append_properties(call.get(), request.properties), "systemd: start " + request.unit);
    // No auxiliary units.
    if ((r = sd_bus_message_append(call.get(), "a(sa(sv))", 0)) < 0)
        return fail("systemd: start " + request.unit + ": " + std::strerror(-r));
    return call;
}

}  // namespace

ErrorOr<Outcome> start_unit(sd_bus* bus, const Request& request) {
    JobWatch watch(bus);
    TRY(watch.install());
    for (int attempt = 0;; ++attempt) {
        Message call = TRY(start_call(bus, request));
        BusError error;
        Message reply;
        int r = send(bus, call, request, error, reply);
        if (r < 0 && error.is(kUnitExists) && attempt == 0) {
            reset_failed(bus, request.unit);  // a failed leftover goes; a live one stays
            continue;
        }
        if (r < 0 && error.is(kUnitExists)) {
            return fail("systemd: " + request.unit +
                        " already exists (a container left behind? delete it with --force, or "
                        "`systemctl stop " +
                        request.unit + "`)");
        }
        if (r < 0) return fail("systemd: start " + request.unit + ": " + error.text(r));
        std::string job = read_job(reply);
        auto result = watch.wait(job, deadline_of(request));
        if (!result || *result != "done") reset_failed(bus, request.unit);
        if (!result) return fail("systemd: start " + request.unit + ": " + result.error().message);
        if (*result != "done") return fail("systemd: start " + request.unit + ": job " + *result);
        return Outcome{job, *result};
    }
}

ErrorOr<Outcome> set_unit_properties(sd_bus* bus, const Request& request) {
    Message call = TRY(new_call(bus, "SetUnitProperties"));
    int r = sd_bus_message_append(call.get(), "sb", request.unit.c_str(), 1);
    if (r < 0) return fail("systemd: set " + request.unit + ": " + std::strerror(-r));
    TRY_CTX(append_properties(call.get(), request.properties), "systemd: set " + request.unit);
    BusError error;
    Message reply;
    r = send(bus, call, request, error, reply);
    if (r < 0 && error.is(kNoSuchUnit))
        return fail("systemd: set " + request.unit + ": the unit is not loaded (has the container exited?)");
    if (r < 0) return fail("systemd: set " + request.unit + ": " + error.text(r));
    return Outcome{"", "set"};
}

ErrorOr<Outcome> stop_unit(sd_bus* bus, const Request& request) {
    JobWatch watch(bus);
    TRY(watch.install());
    Message call = TRY(new_call(bus, "StopUnit"));
    int r = sd_bus_message_append(call.get(), "ss", request.unit.c_str(), "replace");
    if (r < 0) return fail("systemd: stop " + request.unit + ": " + std::strerror(-r));
    BusError error;
    Message reply;
    r = send(bus, call, request, error, reply);
    if (r < 0 && error.is(kNoSuchUnit)) return Outcome{"", "not loaded"};
    if (r < 0) return fail("systemd: stop " + request.unit + ": " + error.text(r));
    std::string job = read_job(reply);
    auto result = watch.wait(job, deadline_of(request));
    reset_failed(bus, request.unit);
    if (!result) return fail("systemd: stop " + request.unit + ": " + result.error().message);
    if (*result != "done") return fail("systemd: stop " + request.unit + ": job " + *result);
    return Outcome{job, *result};
}

}  // namespace hutch::systemd_bus
