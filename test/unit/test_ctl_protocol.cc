// ctl protocol codec: escaping, records, framing, the line reader's limits, the reply reader.
#include <random>
#include <string>

#include "ctl/protocol.h"
#include "testutil.h"

using namespace tr7::ctl;

static void test_escape_roundtrip_random(void**) {
  std::mt19937_64 rng(test_seed());
  for (int i = 0; i < 5000; ++i) {
    std::string v(rng() % 40, '\0');
    for (auto& c : v) {
      c = static_cast<char>(rng() & 0xFF);
    }
    std::string e = escape(v);
    for (char c : e) {
      auto u = static_cast<unsigned char>(c);
      assert_true(u > 0x20 && u < 0x7F);  // the wire is printable ASCII, no spaces
    }
    auto back = unescape(e);
    assert_true(back.has_value());
    assert_true(*back == v);
  }
}

static void test_escape_examples(void**) {
  assert_string_equal(escape("a b%c=d").c_str(), "a%20b%25c=d");
  assert_string_equal(escape("").c_str(), "");
  assert_string_equal(escape("\xC3\xA9").c_str(), "%C3%A9");
  assert_false(unescape("%").has_value());
  assert_false(unescape("%4").has_value());
  assert_false(unescape("%zz").has_value());
  assert_false(unescape("a b").has_value());
  assert_string_equal(unescape("%41%62").value().c_str(), "Ab");
}

static void test_records(void**) {
  Record r{{"state", "synchronised"}, {"ref_name", "time server"}, {"empty", ""}, {"eq", "a=b"}};
  std::string line = encode_record(r);
  assert_string_equal(line.c_str(), "state=synchronised ref_name=time%20server empty= eq=a=b");
  auto d = decode_record(line);
  assert_true(d.has_value());
  assert_int_equal(d->size(), 4);
  assert_true(*d == r);
  assert_string_equal(find(*d, "ref_name")->c_str(), "time server");
  assert_null(find(*d, "nope"));
  assert_false(decode_record("noequals").has_value());
  assert_false(decode_record("Bad=1").has_value());
  assert_false(decode_record("a=1  b=2").has_value());  // empty field
  assert_false(decode_record("=1").has_value());
  assert_true(decode_record("").has_value());
}

static void test_framing(void**) {
  assert_string_equal(frame_ok(3, {"a=1", "b=2"}).c_str(), "BEGIN 3\na=1\nb=2\nEND 3 OK\n");
  assert_string_equal(frame_error(4, ErrCode::PermissionDenied, "permission denied: admin_group required").c_str(),
                      "BEGIN 4\nEND 4 ERR 13 permission denied: admin_group required\n");
  // Error text is one safe line.
  std::string f = frame_error(5, ErrCode::InvalidArgument, "bad\nEND 5 OK\r\x01");
  assert_string_equal(f.c_str(), "BEGIN 5\nEND 5 ERR 22 bad?END 5 OK??\n");
  assert_string_equal(stuff_line(".x").c_str(), "..x");
  assert_string_equal(stuff_line("END 1 OK").c_str(), ".END 1 OK");
  assert_string_equal(stuff_line("# HELP").c_str(), "# HELP");
  assert_string_equal(unstuff_line("..x").c_str(), ".x");
  assert_string_equal(unstuff_line(".END 1 OK").c_str(), "END 1 OK");
}

static void test_greeting(void**) {
  assert_string_equal(greeting("0.1.0").c_str(), "TR7CTL 1 tr7ntpd/0.1.0");
  assert_int_equal(parse_greeting("TR7CTL 1 tr7ntpd/0.1.0").value(), 1);
  assert_false(parse_greeting("SSH-2.0-OpenSSH").has_value());
  assert_false(parse_greeting("TR7CTL x").has_value());
  assert_false(parse_greeting("").has_value());
}

static void test_line_reader(void**) {
  LineReader r(16);
  r.feed("track");
  assert_false(r.next().has_value());
  r.feed("ing\r\nsources\nhel");
  auto a = r.next();
  assert_true(a && a->has_value());
  assert_string_equal(a->value().c_str(), "tracking");
  auto b = r.next();
  assert_string_equal(b->value().c_str(), "sources");
  assert_false(r.next().has_value());
  assert_true(r.partial());
  auto c = r.finish();  // half-close: the last line without LF is still a line
  assert_string_equal(c->value().c_str(), "hel");

  // Exactly the limit passes, one more fails, also without a newline yet.
  LineReader l(16);
  l.feed(std::string(16, 'a') + "\n");
  assert_true(l.next()->has_value());
  l.feed(std::string(17, 'a') + "\n");
  auto e = l.next();
  assert_false(e->has_value());
  assert_int_equal(static_cast<int>(e->error().code), static_cast<int>(ErrCode::TooLong));
  assert_true(l.failed());
  LineReader m(16);
  m.feed(std::string(100, 'a'));
  auto f = m.next();
  assert_true(f.has_value());
  assert_false(f->has_value());

  for (std::string bad : {std::string("a\0b\n", 4), std::string("a\rb\n"), std::string("\xC3\x28\n"),
                          std::string("\x16\x03\x01\x02\x00\n", 6), std::string("\x7F\n")}) {
    LineReader x(64);
    x.feed(bad);
    auto g = x.next();
    assert_true(g.has_value());
    assert_false(g->has_value());
    assert_int_equal(static_cast<int>(g->error().code), static_cast<int>(ErrCode::BadEncoding));
  }
  LineReader u(64);
  u.feed("timezone set Europe/Istanbul \xC3\xA9\n");
  assert_true(u.next()->has_value());
}

static void test_line_reader_random_chunks(void**) {
  std::mt19937_64 rng(test_seed(7));
  std::string stream;
  std::vector<std::string> lines;
  for (int i = 0; i < 200; ++i) {
    std::string l(rng() % 50, 'x');
    for (auto& c : l) {
      c = static_cast<char>('a' + rng() % 26);
    }
    lines.push_back(l);
    stream += l + ((rng() & 1) ? "\n" : "\r\n");
  }
  LineReader r(64);
  std::vector<std::string> got;
  size_t pos = 0;
  while (pos < stream.size()) {
    size_t n = 1 + rng() % 37;
    r.feed(std::string_view(stream).substr(pos, n));
    pos += n;
    while (auto l = r.next()) {
      assert_true(l->has_value());
      got.push_back(l->value());
    }
  }
  assert_true(got == lines);
}

static void test_reply_reader(void**) {
  ReplyReader rr;
  assert_true(rr.feed_line("BEGIN 1").has_value());
  assert_false(rr.feed_line("BEGIN 1")->has_value());  // a body line
  auto done = rr.feed_line("END 1 OK");
  assert_true(done.has_value() && done->has_value());
  assert_true((*done)->ok);
  assert_int_equal((*done)->lines.size(), 1);

  assert_true(rr.feed_line("BEGIN 2").has_value());
  auto err = rr.feed_line("END 2 ERR 13 permission denied: admin_group required");
  assert_true(err.has_value() && err->has_value());
  assert_false((*err)->ok);
  assert_int_equal(static_cast<int>((*err)->error.code), 13);
  assert_string_equal((*err)->error.text.c_str(), "permission denied: admin_group required");

  ReplyReader bad;
  assert_false(bad.feed_line("hello").has_value());
  ReplyReader mism;
  assert_true(mism.feed_line("BEGIN 3").has_value());
  assert_false(mism.feed_line("END 4 OK").has_value());
  ReplyReader junk;
  assert_true(junk.feed_line("BEGIN 3").has_value());
  assert_false(junk.feed_line("END 3 MAYBE").has_value());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_escape_roundtrip_random),
      cmocka_unit_test(test_escape_examples),
      cmocka_unit_test(test_records),
      cmocka_unit_test(test_framing),
      cmocka_unit_test(test_greeting),
      cmocka_unit_test(test_line_reader),
      cmocka_unit_test(test_line_reader_random_chunks),
      cmocka_unit_test(test_reply_reader),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
