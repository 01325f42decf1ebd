// tr7ntpc: the scripting CLI over tr7ntpd's control socket (tr7ntpc(1)).
//
// Exit status: 0 ok, 1 the daemon refused or failed the command, 2 usage error (checked
// here against the same command table as the daemon, before connecting), 3 the daemon
// cannot be reached (or is busy, or speaks something else), 4 tr7ntpd is not running
// (the socket is missing, or stale: nothing listens on it).
#include <getopt.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "autoconfig.h"
#include "core/strutil.h"
#include "ctl/command.h"
#include "ctl/json.h"
#include "ctl/status.h"
#include "tools/tr7ntpc/client.h"
#include "tools/tr7ntpc/render.h"

using namespace tr7;

namespace {

constexpr int k_exit_ok = 0;
constexpr int k_exit_failed = 1;
constexpr int k_exit_usage = 2;
constexpr int k_exit_unreachable = 3;
constexpr int k_exit_not_running = 4;  // no daemon on the socket (missing or stale)

struct Options {
  std::string socket;
  tools::RenderOptions render;
  double timeout_s = 10;
};

// Set before the options are parsed (a usage error in them is JSON too with --json).
bool g_json = false;

// A usage error: the message on stderr; with --json also a JSON error object on stdout.
int usage_error(const std::string& msg, ctl::ErrCode code = ctl::ErrCode::InvalidArgument) {
  std::fprintf(stderr, "tr7ntpc: %s\nTry 'tr7ntpc --help'.\n", msg.c_str());
  if (g_json) {
    ctl::JsonObject inner;
    inner.num("code", static_cast<long long>(static_cast<int>(code)))
        .str("name", "usage")
        .str("message", msg)
        .num("exit_status", static_cast<long long>(k_exit_usage));
    std::printf("{\"error\":%s}\n", inner.done().c_str());
  }
  return k_exit_usage;
}

int exit_for(ctl::ErrCode c) { return c == ctl::ErrCode::Busy ? k_exit_unreachable : k_exit_failed; }

void print_error(const ctl::Error& e, const Options& o) {
  std::string s = tools::render_error(e, o.render);
  if (o.render.format == tools::OutputFormat::Json) {
    std::fputs(s.c_str(), stdout);
  } else {
    std::fprintf(stderr, "tr7ntpc: %s", s.c_str());
  }
}

int unreachable(const tools::ClientError& e, const Options& o) {
  if (o.render.format == tools::OutputFormat::Json) {
    ctl::JsonObject inner;
    inner.num("code", 0LL).str("name", e.not_running ? "not_running" : "unreachable").str("message", e.text);
    std::printf("{\"error\":%s}\n", inner.done().c_str());
  } else {
    std::fprintf(stderr, "tr7ntpc: %s\n", e.text.c_str());
  }
  return e.not_running ? k_exit_not_running : k_exit_unreachable;
}

// The daemon's zone rule, for showing local times (UTC if it cannot be had).
void fetch_zone(tools::CtlClient& c, Options& o) {
  if (o.render.utc || o.render.format != tools::OutputFormat::Human) {
    return;
  }
  auto r = c.call("timezone get");
  if (!r || !r->ok || r->lines.empty()) {
    return;
  }
  auto rec = ctl::decode_record(r->lines[0]);
  if (!rec) {
    return;
  }
  if (const std::string* rule = ctl::find(*rec, "rule")) {
    auto tz = core::parse_tz_rule(*rule);
    if (tz) {
      o.render.zone = *tz;
    }
  }
}

bool has_time_fields(const std::vector<std::string>& lines) {
  for (const auto& l : lines) {
    if (l.find("_utc=") != std::string::npos) {
      return true;
    }
  }
  return false;
}

int run_command(const ctl::ParsedCommand& pc, Options& o) {
  tools::CtlClient c;
  if (auto r = c.connect(o.socket, o.timeout_s); !r) {
    return unreachable(r.error(), o);
  }
  auto reply = c.call(pc.to_line());
  if (!reply) {
    return unreachable(reply.error(), o);
  }
  if (!reply->ok) {
    print_error(reply->error, o);
    return exit_for(reply->error.code);
  }
  const ctl::CmdInfo& ci = ctl::info(pc.cmd);
  auto body = tools::decode_body(ci.shape, reply->lines);
  if (!body) {
    return unreachable(tools::ClientError{true, body.error()}, o);
  }
  if (pc.cmd == ctl::Cmd::Report) {
    // The document as the daemon wrote it (JSON or Markdown, chosen on the wire).
    for (const auto& l : body->text) {
      std::fputs((l + "\n").c_str(), stdout);
    }
    return k_exit_ok;
  }
  if (has_time_fields(reply->lines) && pc.cmd != ctl::Cmd::TimezoneGet) {
    fetch_zone(c, o);
  } else if (pc.cmd == ctl::Cmd::TimezoneGet || pc.cmd == ctl::Cmd::TimezoneSet) {
    // Nothing to convert: these carry their own local time.
  }
  std::fputs(tools::render(pc.cmd, *body, o.render).c_str(), stdout);
  if (pc.cmd == ctl::Cmd::AuditVerify && !body->records.empty()) {
    // A broken chain is a failure of the command: exit 1, naming the first bad record.
    const std::string* res = ctl::find(body->records[0], "result");
    if (!res || *res != "ok") {
      const std::string* seq = ctl::find(body->records[0], "first_bad_seq");
      const std::string* problem = ctl::find(body->records[0], "problem");
      const std::string* where = ctl::find(body->records[0], "where");
      std::fprintf(stderr, "tr7ntpc: audit trail broken at seq %s: %s%s%s\n", seq && !seq->empty() ? seq->c_str() : "?",
                   problem ? problem->c_str() : "?", where && !where->empty() ? " at " : "",
                   where ? where->c_str() : "");
      return k_exit_failed;
    }
  }
  if (pc.cmd == ctl::Cmd::Reload && !body->records.empty()) {
    // Reloaded, but some changed keys take effect only at a restart: say which, exit 1.
    const std::string* need = ctl::find(body->records[0], "restart_needed");
    const std::string* keys = ctl::find(body->records[0], "restart_keys");
    if (need && *need == "yes") {
      std::fprintf(stderr, "tr7ntpc: reloaded, but restart tr7ntpd for these changes to take effect: %s\n",
                   keys ? keys->c_str() : "?");
      return k_exit_failed;
    }
  }
  return k_exit_ok;
}

double now_mono() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// waitsync [--max-offset S] [--timeout S] [--interval S]: polls `tracking` until the
// daemon is synchronised (and |offset| <= S). 0 when synchronised, 1 on timeout, 3 (4: not running) if
// the daemon was never reachable.
int waitsync(const std::vector<std::string>& args, Options& o) {
  double max_offset = -1, timeout = 60, interval = 1;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size()) {
      return usage_error("waitsync: " + a + " needs a value");
    }
    auto v = core::parse_double(args[i + 1], 0, 1e9);
    if (!v) {
      return usage_error("waitsync: " + a + ": " + v.error());
    }
    if (a == "--max-offset") {
      max_offset = *v;
    } else if (a == "--timeout") {
      timeout = *v;
    } else if (a == "--interval") {
      if (*v < 0.05) {
        return usage_error("waitsync: --interval must be at least 0.05");
      }
      interval = *v;
    } else {
      return usage_error("waitsync: unknown option " + a);
    }
    ++i;
  }
  double deadline = now_mono() + timeout;
  bool reached = false;
  std::string last = "no answer";
  tools::ClientError why{true, "daemon not reachable at " + o.socket};
  while (true) {
    tools::CtlClient c;
    auto conn = c.connect(o.socket, o.timeout_s);
    if (!conn) {
      why = conn.error();
    }
    if (conn) {
      reached = true;
      auto r = c.call("tracking");
      if (r && !r->ok) {
        print_error(r->error, o);
        return exit_for(r->error.code);
      }
      if (r && !r->lines.empty()) {
        auto rec = ctl::decode_record(r->lines[0]);
        if (rec) {
          const std::string* sync = ctl::find(*rec, "synchronised");
          const std::string* off = ctl::find(*rec, "offset_s");
          const std::string* state = ctl::find(*rec, "state");
          double offset = off ? std::strtod(off->c_str(), nullptr) : 0;
          last = "state " + (state ? *state : std::string("?")) + ", offset " + (off ? *off : std::string("?")) + " s";
          if (sync && *sync == "yes" && (max_offset < 0 || std::fabs(offset) <= max_offset)) {
            if (o.render.format == tools::OutputFormat::Json) {
              std::printf("{\"synchronised\":true,\"offset_s\":%s}\n", ctl::json_value(off ? *off : "0").c_str());
            } else if (o.render.format == tools::OutputFormat::Human) {
              std::printf("synchronised: %s\n", last.c_str());
            }
            return k_exit_ok;
          }
        }
      }
    }
    if (now_mono() + interval > deadline) {
      break;
    }
    usleep(static_cast<useconds_t>(interval * 1e6));
  }
  if (!reached) {
    return unreachable(why, o);
  }
  print_error(
      ctl::Error{ctl::ErrCode::Timeout, "not synchronised after " + ctl::format_double(timeout) + " s (" + last + ")"},
      o);
  return k_exit_failed;
}

// report [--since T] [--until T] [--tenant NAME] [--format json|md] -> the wire's keyword
// options. T: RFC 3339, YYYY-MM-DD, Unix seconds, or relative to now: -30d, -12h, -15m.
// Without --format: json with --json, else md.
Result<std::vector<std::string>> report_words(const std::vector<std::string>& args, bool json) {
  std::string since, until, tenant, format;
  for (size_t i = 0; i < args.size(); ++i) {
    // "--since T" or the wire's "since T".
    std::string a = args[i].rfind("--", 0) == 0 ? args[i] : "--" + args[i];
    std::string* slot = a == "--since"    ? &since
                        : a == "--until"  ? &until
                        : a == "--tenant" ? &tenant
                        : a == "--format" ? &format
                                          : nullptr;
    if (!slot) {
      return unexpected("report: unknown option " + args[i] + " (--since, --until, --tenant, --format)");
    }
    if (i + 1 >= args.size()) {
      return unexpected("report: " + a + " needs a value");
    }
    *slot = args[++i];
  }
  auto when = [](std::string& v) -> Result<void> {
    if (v.size() >= 3 && v[0] == '-' && std::string("dhm").find(v.back()) != std::string::npos) {
      auto n = core::parse_int(std::string_view(v).substr(1, v.size() - 2), 0, 100000);
      if (!n) {
        return unexpected("invalid relative time '" + v + "' (-30d, -12h, -15m)");
      }
      int64_t unit = v.back() == 'd' ? 86400 : v.back() == 'h' ? 3600 : 60;
      timespec ts{};
      clock_gettime(CLOCK_REALTIME, &ts);
      v = std::to_string(static_cast<int64_t>(ts.tv_sec) - *n * unit);
    }
    return {};
  };
  std::vector<std::string> w{"report"};
  for (auto [kw, v] : {std::pair<const char*, std::string*>{"since", &since},
                       {"until", &until},
                       {"tenant", &tenant},
                       {"format", &format}}) {
    if (std::string(kw) == "format" && v->empty()) {
      *v = json ? "json" : "md";
    }
    if (v->empty()) {
      continue;
    }
    if (auto r = when(*v); !r && (std::string(kw) == "since" || std::string(kw) == "until")) {
      return unexpected(r.error());
    }
    w.emplace_back(kw);
    w.push_back(*v);
  }
  return w;
}

// Bash completion: tr7ntpc --complete WORDS... (the last word is the one being completed).
int complete(const std::vector<std::string>& words, Options& o) {
  std::vector<std::string> before;
  std::string cur;
  size_t i = 0;
  // Skip global options (and their values).
  while (i < words.size() && !words[i].empty() && words[i][0] == '-' && i + 1 < words.size()) {
    if (words[i] == "-s" || words[i] == "--socket" || words[i] == "-t" || words[i] == "--timeout") {
      if (words[i] == "-s" || words[i] == "--socket") {
        o.socket = words[i + 1];
      }
      ++i;
    }
    ++i;
  }
  for (; i < words.size(); ++i) {
    (i + 1 == words.size() ? cur : before.emplace_back()) = words[i];
  }
  if (before.size() == 2 && before[0] == "timezone" && before[1] == "set") {
    tools::CtlClient c;
    if (c.connect(o.socket, 2)) {
      auto r = c.call("timezone list");
      if (r && r->ok) {
        for (const auto& l : r->lines) {
          auto rec = ctl::decode_record(l);
          const std::string* z = rec ? ctl::find(*rec, "zone") : nullptr;
          if (z && z->compare(0, cur.size(), cur) == 0) {
            std::printf("%s\n", z->c_str());
          }
        }
      }
    }
    return 0;
  }
  if (before.empty() && !cur.empty() && cur[0] == '-') {
    for (const char* opt :
         {"--socket", "--json", "--csv", "--utc", "--verbose", "--numeric", "--timeout", "--help", "--version"}) {
      if (std::string(opt).compare(0, cur.size(), cur) == 0) {
        std::printf("%s\n", opt);
      }
    }
    return 0;
  }
  for (const auto& w : ctl::complete(before, cur)) {
    std::printf("%s\n", w.c_str());
  }
  if (before.size() >= 1 && before[0] == "report") {
    for (const char* opt : {"--since", "--until", "--tenant", "--format"}) {
      if (std::string(opt).compare(0, cur.size(), cur) == 0) {
        std::printf("%s\n", opt);
      }
    }
  }
  if (before.size() == 1 && before[0] == "waitsync") {
    for (const char* opt : {"--max-offset", "--timeout", "--interval"}) {
      if (std::string(opt).compare(0, cur.size(), cur) == 0) {
        std::printf("%s\n", opt);
      }
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  const char* env = std::getenv("TR7NTPC_SOCKET");
  o.socket = env && *env ? env : "/run/tr7ntp/tr7ntpd.sock";
  enum { OPT_COMPLETE = 1000 };
  static const option long_opts[] = {{"socket", required_argument, nullptr, 's'},
                                     {"json", no_argument, nullptr, 'j'},
                                     {"csv", no_argument, nullptr, 'c'},
                                     {"utc", no_argument, nullptr, 'u'},
                                     {"verbose", no_argument, nullptr, 'v'},
                                     {"numeric", no_argument, nullptr, 'n'},
                                     {"timeout", required_argument, nullptr, 't'},
                                     {"version", no_argument, nullptr, 'V'},
                                     {"help", no_argument, nullptr, 'h'},
                                     {"complete", no_argument, nullptr, OPT_COMPLETE},
                                     {nullptr, 0, nullptr, 0}};
  // Options only before the command: "waitsync --timeout 5" belongs to waitsync.
  for (int i = 1; i < argc && argv[i][0] == '-'; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      break;
    }
    if (a == "--json") {
      g_json = true;
    } else if (a == "--socket" || a == "--timeout") {
      ++i;  // its value
    } else if (a.size() > 1 && a[1] != '-') {
      for (size_t k = 1; k < a.size(); ++k) {
        if (a[k] == 'j') {
          g_json = true;
        } else if (a[k] == 's' || a[k] == 't') {
          i += k + 1 == a.size();  // the value is the next word, or the rest of this one
          break;
        }
      }
    }
  }
  int c;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "+s:jcut:vnVh", long_opts, nullptr)) != -1) {
    switch (c) {
      case 's':
        o.socket = optarg;
        break;
      case 'j':
        o.render.format = tools::OutputFormat::Json;
        break;
      case 'c':
        o.render.format = tools::OutputFormat::Csv;
        break;
      case 'u':
        o.render.utc = true;
        break;
      case 'v':
        o.render.verbose = true;
        break;
      case 'n':
        o.render.numeric = true;
        break;
      case 't': {
        auto v = core::parse_double(optarg, 0.1, 3600);
        if (!v) {
          return usage_error(std::string("--timeout: ") + v.error());
        }
        o.timeout_s = *v;
        break;
      }
      case 'V':
        std::printf("tr7ntpc %s\n", PACKAGE_VERSION);
        return k_exit_ok;
      case 'h':
        std::fputs(tools::help_text().c_str(), stdout);
        return k_exit_ok;
      case OPT_COMPLETE: {
        std::vector<std::string> words(argv + optind, argv + argc);
        return complete(words, o);
      }
      default:
        if (optopt) {
          return usage_error(std::string("invalid option or missing argument: -") + static_cast<char>(optopt));
        }
        return usage_error(std::string("invalid option: ") + argv[optind - 1]);
    }
  }
  std::vector<std::string> words(argv + optind, argv + argc);
  if (words.empty()) {
    if (g_json) {
      return usage_error("no command given");
    }
    std::fputs(tools::help_text().c_str(), stderr);
    return k_exit_usage;
  }
  if (words[0] == "report") {
    auto w = report_words(std::vector<std::string>(words.begin() + 1, words.end()),
                          o.render.format == tools::OutputFormat::Json);
    if (!w) {
      return usage_error(w.error());
    }
    words = std::move(*w);
  }
  auto pc = ctl::parse_command(std::span<const std::string>(words));
  if (!pc) {
    return usage_error(pc.error().text, pc.error().code);
  }
  if (pc->cmd == ctl::Cmd::Help && o.render.format == tools::OutputFormat::Human) {
    std::fputs(tools::help_text().c_str(), stdout);
    return k_exit_ok;
  }
  if (pc->cmd == ctl::Cmd::WaitSync) {
    return waitsync(pc->args, o);
  }
  return run_command(*pc, o);
}
