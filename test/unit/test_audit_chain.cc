// The audit trail's hash chain: sealing, and verification catching an altered byte, a
// deleted, inserted, duplicated or reordered record, a cut end, across files.
#include <string>
#include <vector>

#include "core/audit_chain.h"
#include "core/random.h"
#include "testutil.h"

using namespace tr7::core;

namespace {

std::vector<std::string> chain(size_t n, ChainState& st) {
  std::vector<std::string> v;
  for (size_t i = 0; i < n; ++i) {
    v.push_back(seal_record(st, "node-1", "{\"command\":\"allow add 10.0.0.0/8\",\"n\":" + std::to_string(i) + "}"));
  }
  return v;
}

ChainReport verify(const std::vector<std::string>& lines, const std::optional<ChainState>& writer = std::nullopt) {
  ChainVerifier v;
  uint64_t n = 0;
  for (const auto& l : lines) {
    v.line(l, "audit.log", ++n);
  }
  v.finish(writer);
  return v.report();
}

}  // namespace

static void test_seal(void**) {
  ChainState st;
  std::string a = seal_record(st, "n1", "{\"x\":1}");
  assert_int_equal(st.seq, 1);
  assert_true(
      a.rfind("{\"seq\":1,\"node\":\"n1\",\"prev_hash\":\"" + std::string(k_chain_genesis) + "\",\"x\":1,", 0) == 0);
  auto l = check_record(a);
  assert_true(l.has_value());
  assert_int_equal(l->seq, 1);
  assert_string_equal(l->hash.c_str(), st.hash.c_str());
  std::string b = seal_record(st, "n1", "{}");
  auto lb = check_record(b);
  assert_true(lb && lb->prev_hash == l->hash && lb->seq == 2);
  // A record of the time before the chain.
  assert_true(check_record("{\"time_utc\":\"x\",\"command\":\"reload\"}").error() == LinkError::Unchained);
  assert_true(check_record("garbage").error() == LinkError::Damaged);
}

static void test_intact(void**) {
  ChainState st;
  auto lines = chain(50, st);
  ChainReport r = verify(lines, st);
  assert_true(r.ok);
  assert_int_equal(r.records, 50);
  assert_int_equal(r.first_seq, 1);
  assert_int_equal(r.last_seq, 50);
}

// Every single byte changed anywhere in any record is caught, at that record's seq.
static void test_any_altered_byte(void**) {
  uint64_t seed = test_seed();
  Rng rng(seed);
  ChainState st;
  auto lines = chain(20, st);
  for (int i = 0; i < 500; ++i) {
    auto copy = lines;
    size_t rec = rng.next_u32() % copy.size();
    size_t pos = rng.next_u32() % copy[rec].size();
    char old = copy[rec][pos];
    char now = static_cast<char>(32 + rng.next_u32() % 95);
    if (now == old) {
      continue;
    }
    copy[rec][pos] = now;
    ChainReport r = verify(copy, st);
    if (r.ok || !r.first_bad_seq || *r.first_bad_seq != rec + 1) {
      fail_msg("byte %zu of record %zu ('%c' -> '%c'): %s at seq %llu", pos, rec + 1, old, now,
               r.ok ? "not caught" : r.problem.c_str(), static_cast<unsigned long long>(r.first_bad_seq.value_or(0)));
    }
  }
}

static void test_deleted_inserted_reordered(void**) {
  ChainState st;
  auto lines = chain(10, st);
  auto del = lines;
  del.erase(del.begin() + 4);  // seq 5
  ChainReport r = verify(del, st);
  assert_false(r.ok);
  assert_int_equal(*r.first_bad_seq, 5);
  // Deleting the first record: the log starts at seq 2 and is consistent from there, so
  // only the missing start is reported (first_seq 2), which the caller shows.
  auto first = lines;
  first.erase(first.begin());
  r = verify(first, st);
  assert_true(r.ok);
  assert_int_equal(r.first_seq, 2);
  // The last record cut: only the writer's state can tell.
  auto cut = lines;
  cut.pop_back();
  assert_true(verify(cut).ok);
  r = verify(cut, st);
  assert_false(r.ok);
  assert_int_equal(*r.first_bad_seq, 10);
  // Inserted unsealed record, and a duplicate, and a swap.
  auto ins = lines;
  ins.insert(ins.begin() + 3, "{\"command\":\"forged\"}");
  r = verify(ins, st);
  assert_false(r.ok);
  assert_int_equal(*r.first_bad_seq, 4);
  auto dup = lines;
  dup.insert(dup.begin() + 6, lines[5]);
  r = verify(dup, st);
  assert_false(r.ok);
  assert_int_equal(*r.first_bad_seq, 7);
  auto swap = lines;
  std::swap(swap[2], swap[3]);
  r = verify(swap, st);
  assert_false(r.ok);
  assert_int_equal(*r.first_bad_seq, 3);
  // A record replaced by a validly sealed one from another chain.
  ChainState other;
  auto foreign = chain(10, other);
  foreign[0] = seal_record(other, "evil", "{}");
  auto rep = lines;
  ChainState fake{6, std::string(64, 'a')};
  rep[6] = seal_record(fake, "node-1", "{\"command\":\"replaced\"}");
  r = verify(rep, st);
  assert_false(r.ok);
  assert_int_equal(*r.first_bad_seq, 7);
}

static void test_across_files_and_legacy(void**) {
  ChainState st;
  auto lines = chain(9, st);
  ChainVerifier v;
  v.line("{\"time_utc\":\"2026-01-01T00:00:00Z\",\"command\":\"reload\"}", "audit.log.2", 1);  // before the chain
  for (size_t i = 0; i < 9; ++i) {
    v.line(lines[i], i < 3 ? "audit.log.2" : i < 6 ? "audit.log.1" : "audit.log", i + 2);
  }
  v.finish(st);
  assert_true(v.report().ok);
  assert_int_equal(v.report().unchained, 1);
  assert_int_equal(v.report().records, 9);
  // A rotated file lost in the middle.
  ChainVerifier w;
  for (size_t i = 0; i < 9; ++i) {
    if (i >= 3 && i < 6) {
      continue;
    }
    w.line(lines[i], "f", i + 1);
  }
  w.finish(st);
  assert_false(w.report().ok);
  assert_int_equal(*w.report().first_bad_seq, 4);
  assert_string_equal(w.report().problem.c_str(), "3 records missing (deleted)");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seal),
      cmocka_unit_test(test_intact),
      cmocka_unit_test(test_any_altered_byte),
      cmocka_unit_test(test_deleted_inserted_reordered),
      cmocka_unit_test(test_across_files_and_legacy),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
