// The compliance report (core/history.h) as JSON or Markdown. Pure.
//
// JSON (tr7ntpc report --format json), every time RFC 3339 UTC:
//   {"period":{"from_utc","to_utc","seconds"},"node","config_sha256",
//    "sync":{"coverage_fraction","synchronised_fraction","max_abs_offset_s",
//            "p99_abs_offset_s","max_root_distance_s","observed_s"},
//    "corrections":{"held","released","approvals"},
//    "sources":[{"address","stratum","selected_fraction"}],
//    "tenants":[{"name","clients_distinct","requests","clients_truncated",
//                "clients":[{"address","first_seen_utc","last_seen_utc","requests"}]}],
//    "changes":[<the audit records of the period, as written>],
//    "alerts":[{"time_utc","alert","subject","state","value","threshold"}]}
#pragma once

#include <string>

#include "core/history.h"

namespace tr7::ctl {

std::string report_json(const core::Report& r);
std::string report_markdown(const core::Report& r);

}  // namespace tr7::ctl
