// The compliance history: record codecs, interval accumulation, the report's
// aggregation (fractions, p99, sources, clients per tenant, changes, alerts), and what
// 90 days cost on disk at the default settings (printed).
#include <string>
#include <vector>

#include "core/history.h"
#include "core/random.h"
#include "testutil.h"

using namespace tr7::core;

static void test_codecs(void**) {
  // Observations weighted by how long each held: 10 s, 20 s, 30 s (unsynchronised), 40 s.
  IntervalAccumulator acc;
  acc.start(1'795'000'000, 100);
  acc.add({true, 0.000012, 0.004, "192.0.2.1", 2}, 100);
  acc.add({true, -0.00003, 0.005, "192.0.2.1", 2}, 110);
  acc.add({false, 0, 0, "", 0}, 130);
  acc.add({true, 0.0001, 0.003, "[2001:db8::1]:10123", 3}, 160);
  SyncInterval v = acc.finish(200, 100);
  std::string line = encode(v);
  auto back = decode_sync(line);
  assert_true(back.has_value());
  assert_string_equal(encode(*back).c_str(), line.c_str());
  assert_int_equal(back->observed_ms, 100000);
  assert_int_equal(back->synced_ms, 70000);
  assert_near(back->max_abs_offset_s, 0.0001, 1e-15);
  assert_int_equal(back->sources.size(), 2);
  assert_int_equal(back->sources[0].selected_ms, 30000);
  assert_string_equal(back->sources[1].address.c_str(), "[2001:db8::1]:10123");
  assert_int_equal(back->sources[1].stratum, 3);
  assert_int_equal(back->sources[1].selected_ms, 40000);
  // The next interval goes on with the last observation.
  acc.start(1'795'000'100, 200);
  SyncInterval next = acc.finish(260, 60);
  assert_int_equal(next.synced_ms, 60000);
  assert_false(acc.empty());
  for (const char* bad : {"", "S1 1 2 3", "S2 1 300 1 1 0 0 - -", "S1 1 300 1 2 0 0 - -", "S1 1 300 2 1 x 0 - -",
                          "S1 1 300 2 1 0 0 5 -", "S1 1 300 2 1 0 0 - a/b"}) {
    if (decode_sync(bad).has_value()) {
      fail_msg("'%s' accepted", bad);
    }
  }
  ClientDay c{"acme", "2001:db8::/64", 10, 20, 7};
  auto cb = decode_client(encode(c));
  assert_true(cb && cb->tenant == "acme" && cb->address == "2001:db8::/64" && cb->requests == 7);
  assert_false(decode_client("C1 a b 1 2").has_value());
  AlertTransition a{1'795'000'000'123'456'789, "peer_disagreement", "10.0.0.2", true, 0.05, 0.02};
  auto ab = decode_alert(encode(a));
  assert_true(ab && ab->time_ns == a.time_ns && ab->subject == "10.0.0.2" && ab->firing && ab->value == 0.05);
  AlertTransition none{5, "no_source", "", false, 0, 1};
  assert_true(decode_alert(encode(none))->subject.empty());
  // Buckets: a factor 2^(1/4) each, the upper edge above the value.
  for (double x : {1e-9, 3e-9, 1e-6, 0.00123, 0.5, 2.0}) {
    int b = offset_bucket(x);
    assert_true(bucket_upper_s(b) >= x);
    assert_true(bucket_upper_s(b) <= x * 1.19 * 1.0001 || b == 0);
  }
}

static void test_report(void**) {
  ReportInput in;
  in.from_s = 1000;
  in.to_s = 1000 + 4 * 300;  // four intervals
  in.node = "n1";
  in.config_sha256 = "ab";
  in.tenants = {"default", "acme"};
  // 3 intervals observed (one missing: the daemon was down), the last half synchronised;
  // an observation every 3 s.
  for (int i = 0; i < 3; ++i) {
    IntervalAccumulator acc;
    acc.start(1000 + i * 300, i * 300);
    for (int k = 0; k < 100; ++k) {
      bool synced = i < 2 || k < 50;
      acc.add({synced, k == 99 && i == 0 ? 0.010 : 0.0001 * (k % 3 == 0 ? -1 : 1), 0.002 + k * 1e-5,
               i == 1 ? "192.0.2.2" : "192.0.2.1", i == 1 ? 3 : 2},
              i * 300 + k * 3);
    }
    in.intervals.push_back(acc.finish(i * 300 + 300, 300));
  }
  in.intervals.push_back(SyncInterval{900, 300, 300000, 300000, 5.0, 0, {}, {}});  // before the period: ignored
  in.clients = {{"default", "10.0.0.1", 900, 1100, 5},                     // overlaps the start
                {"default", "10.0.0.1", 1200, 1300, 7},                    // same client, another day entry
                {"default", "10.0.0.2", 1500, 1600, 1},
                {"acme", "10.20.0.9", 1000, 1001, 2},
                {"other", "10.30.0.1", 5000, 5001, 2}};  // after the period
  in.audit = {{1100'000'000'000, "allow add 10.0.0.0/8", "{\"command\":\"allow add 10.0.0.0/8\"}"},
              {1200'000'000'000, "correction held", "{}"},
              {1300'000'000'000, "approve 7", "{\"result\":\"ok: approved\"}"},
              {1301'000'000'000, "correction released", "{}"},
              {9000'000'000'000, "reload", "{}"}};
  in.alerts = {{1150'000'000'000, "tenant_down", "acme", true, 0, 1},
               {1160'000'000'000, "tenant_down", "beta", true, 0, 1}};
  Report r = make_report(in);
  assert_near(r.coverage_fraction, 0.75, 1e-12);
  assert_near(r.synchronised_fraction, (300 + 300 + 150) / 1200.0, 1e-12);
  assert_near(r.max_abs_offset_s, 0.010, 1e-15);
  // 750 s synchronised, 3 s of it at 10 ms: the 99th percentile is the 0.1 ms bucket.
  assert_true(r.p99_abs_offset_s >= 0.0001 && r.p99_abs_offset_s < 0.000119);
  assert_int_equal(r.sources.size(), 2);
  assert_string_equal(r.sources[0].address.c_str(), "192.0.2.1");
  assert_near(r.sources[0].selected_fraction, 150 / 300.0, 1e-12);
  assert_int_equal(r.sources[1].stratum, 3);
  assert_int_equal(r.tenants.size(), 2);  // acme, default ("other" is outside the period)
  const ReportTenant& d = r.tenants[1];
  assert_string_equal(d.name.c_str(), "default");
  assert_int_equal(d.clients_distinct, 2);
  assert_int_equal(d.clients[0].requests, 12);
  assert_int_equal(d.clients[0].first_s, 900);
  assert_int_equal(d.clients[0].last_s, 1300);
  assert_int_equal(r.changes.size(), 4);
  assert_int_equal(r.corrections_held, 1);
  assert_int_equal(r.corrections_released, 1);
  assert_int_equal(r.approvals, 1);
  assert_int_equal(r.alerts.size(), 2);
  // One tenant: its clients only, and not the other tenants' alerts.
  in.tenant = "acme";
  r = make_report(in);
  assert_int_equal(r.tenants.size(), 1);
  assert_int_equal(r.tenants[0].clients_distinct, 1);
  assert_int_equal(r.alerts.size(), 1);
  assert_string_equal(r.alerts[0].subject.c_str(), "acme");
  // Too many clients: the busiest kept.
  in.tenant.reset();
  in.max_clients = 1;
  r = make_report(in);
  assert_true(r.tenants[1].clients_truncated);
  assert_string_equal(r.tenants[1].clients[0].address.c_str(), "10.0.0.1");
}

// What 90 days of history cost with the defaults (interval 300 s, an observation every 16 s)
// and 1000 clients a day on one tenant: printed for the documentation.
static void test_disk_cost(void**) {
  Rng rng(test_seed());
  size_t sync_bytes = 0, client_bytes = 0;
  for (int day = 0; day < 90; ++day) {
    for (int i = 0; i < 288; ++i) {
      IntervalAccumulator acc;
      double t0 = day * 86400.0 + i * 300;
      acc.start(1'795'000'000 + static_cast<int64_t>(t0), t0);
      // A source polled every 64 s with 4 of them: an observation every 16 s.
      for (int k = 0; k < 19; ++k) {
        double off = (static_cast<double>(rng.next_u32() % 2000) - 1000) * 1e-8;  // +-10 us
        acc.add({true, off, 0.0012 + (rng.next_u32() % 100) * 1e-6, "192.0.2.1", 2}, t0 + k * 16);
      }
      sync_bytes += encode(acc.finish(t0 + 300, 300)).size() + 1;
    }
    for (int c = 0; c < 1000; ++c) {
      ClientDay cd{"default", "10.1." + std::to_string(c / 256) + "." + std::to_string(c % 256),
                   1'795'000'000 + day * 86400, 1'795'000'000 + day * 86400 + 86000, 1350};
      client_bytes += encode(cd).size() + 1;
    }
  }
  std::printf("# 90 days: sync %zu bytes (%.1f KiB/day), clients %zu bytes for 1000 clients/day (%.1f KiB/day)\n",
              sync_bytes, sync_bytes / 90.0 / 1024, client_bytes, client_bytes / 90.0 / 1024);
  assert_true(sync_bytes < 10u << 20);
}

int main() {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_codecs), cmocka_unit_test(test_report),
                                     cmocka_unit_test(test_disk_cost)};
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
