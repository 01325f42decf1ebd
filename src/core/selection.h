// Source selection: which sources tell the truth, and the one time made of them.
//
// No I/O; pure functions over candidates.
//  1. Intersection (RFC 5905 §11.2.1, Marzullo): each candidate's correctness interval is
//     offset +- root distance. Find the smallest number of falsetickers f < n/2 such that
//     n - f intervals share a common point; candidates whose interval reaches that
//     intersection are truechimers. Without a majority, or with fewer than min_sources
//     truechimers, there is no selection (an alarm: "no majority").
//  2. Clustering (RFC 5905 §11.2.2): while more than k_min_cluster survivors remain,
//     drop the one whose offset is furthest from the others (selection jitter) as long
//     as that exceeds the smallest own jitter of a survivor.
//  3. Combining: offsets and frequencies averaged with weights 1 / (variance +
//     (distance / 4)^2), so a precise but distant (asymmetric path) source cannot dominate.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace tr7::core {

inline constexpr size_t k_min_cluster = 3;

struct Candidate {
  size_t id = 0;          // caller's index
  double offset_s = 0;    // server - local clock, now
  double distance_s = 0;  // root distance (>0): half-width of the correctness interval
  double offset_var = 0;  // variance of offset_s (filter), s^2
  double freq = 0;        // server - raw frequency (s/s)
  double freq_var = 0;
  double jitter_s = 0;  // own measurement noise
  uint8_t stratum = 0;
};

enum class SelectStatus : uint8_t { Ok, NoCandidates, TooFew, NoMajority };
const char* to_string(SelectStatus s);

struct Selection {
  SelectStatus status = SelectStatus::NoCandidates;
  std::vector<size_t> truechimers;  // ids
  std::vector<size_t> survivors;    // ids after clustering (subset of truechimers)
  size_t falsetickers = 0;
  double low_s = 0, high_s = 0;  // the intersection
  // Combined estimate of the survivors (valid when status == Ok).
  double offset_s = 0;
  double offset_var = 0;
  double freq = 0;
  double freq_var = 0;
  double jitter_s = 0;  // RMS spread of survivor offsets around the combined one
  // The combined offset's statistical uncertainty (variance, s^2): the survivors' own
  // estimate variances and their spread around the combined offset, weighted as they
  // are combined. offset_var also counts the distances (what the sources may be off by
  // systematically); this is how much the estimate itself moves from update to update.
  double estimate_var = 0;
  size_t best = 0;  // id of the survivor with the smallest distance (the "system peer")
};

Selection select_sources(const std::vector<Candidate>& cands, size_t min_sources);

}  // namespace tr7::core
