// The hutch-systemd helper's D-Bus calls to systemd (sd-bus), for the requests of
// cgroups/systemd_protocol.h. Built into the helper only, never into hutch-oci (see
// systemd_protocol.h for why).
#pragma once

#include <systemd/sd-bus.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "cgroups/systemd_protocol.h"

namespace hutch::systemd_bus {

struct BusClose {
    void operator()(sd_bus* bus) const { sd_bus_flush_close_unref(bus); }
};
using Bus = std::unique_ptr<sd_bus, BusClose>;

struct MessageUnref {
    void operator()(sd_bus_message* message) const { sd_bus_message_unref(message); }
};
using Message = std::unique_ptr<sd_bus_message, MessageUnref>;

// An sd_bus_error that frees itself.
struct BusError {
    sd_bus_error error = SD_BUS_ERROR_NULL;
    BusError() = default;
    BusError(const BusError&) = delete;
    BusError& operator=(const BusError&) = delete;
    ~BusError() { sd_bus_error_free(&error); }
    // The error's message, or strerror of r (a negative errno) when the call set none.
    std::string text(int r) const;
    bool is(const char* name) const { return sd_bus_error_has_name(&error, name); }
};

struct Connection {
    Bus bus;
    std::string via;  // "system bus" or "/run/systemd/private"
};

// The system bus where systemd is on it, else systemd's private socket (root only), as runc
// connects. Neither: "--systemd-cgroup: systemd is not reachable over D-Bus (...)".
ErrorOr<Connection> connect_systemd();

// Appends properties as the a(sv) that StartTransientUnit and SetUnitProperties take. A type not
// in cgroups::systemd::kPropertyTypes, or a value that does not fit its type, is an error naming
// the property.
ErrorOr<void> append_properties(sd_bus_message* message,
                                const std::vector<cgroups::systemd::Property>& properties);

// Collects systemd's JobRemoved signals from the moment it is installed, so that a job that ends
// before its method call has returned is not missed.
class JobWatch {
public:
    explicit JobWatch(sd_bus* bus) : bus_(bus) {}
    JobWatch(const JobWatch&) = delete;
    JobWatch& operator=(const JobWatch&) = delete;
    ~JobWatch() { sd_bus_slot_unref(slot_); }

    ErrorOr<void> install();
    // The result of job ("done", "failed", "canceled", "timeout", "dependency", "skipped"), once
    // it is removed; an error at the deadline.
    ErrorOr<std::string> wait(const std::string& job, std::chrono::steady_clock::time_point deadline);

private:
    static int on_removed(sd_bus_message* message, void* userdata, sd_bus_error* error);

    sd_bus* bus_;
    sd_bus_slot* slot_ = nullptr;
    std::map<std::string, std::string> results_;  // job path -> result
};

struct Outcome {
    std::string job;     // the job's object path; empty where none was queued
    std::string result;  // the job's result, or what happened instead ("not loaded", "set")
};

// StartTransientUnit(unit, "replace", properties) and its job. A unit of that name left failed is
// reset and the start retried once, as runc does; one still there is an error.
ErrorOr<Outcome> start_unit(sd_bus* bus, const cgroups::systemd::Request& request);
// SetUnitProperties(unit, runtime=true, properties): no job.
ErrorOr<Outcome> set_unit_properties(sd_bus* bus, const cgroups::systemd::Request& request);
// StopUnit(unit, "replace") and its job, then ResetFailedUnit so that no failed unit is left. A
// unit already gone is not an error.
ErrorOr<Outcome> stop_unit(sd_bus* bus, const cgroups::systemd::Request& request);

}  // namespace hutch::systemd_bus
