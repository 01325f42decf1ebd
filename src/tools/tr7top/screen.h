// tr7top: the screen as text — layout and contents of every line, and the keys.
//
// Pure: compose() turns the model and the UI state into a Frame (lines of styled text
// spans) for a terminal of a given size; view.cc only draws frames with curses. So the
// whole screen (what is where at 80x24 and at 200x50, what a key does) is tested
// without a terminal, and the system test checks the same through tmux.
//
// Layout, top to bottom: title (host, daemon version, time now in the zone and UTC);
// header grid (state, reference, stratum, leap, offset and trend, frequency and skew,
// root delay/dispersion, last update, interval); alerts; offset history; sources table
// (scrollable); server panel (the daemon's server and one row per tenant); status line
// (keys, pause, notices). Sections shrink or go away on small terminals, in the order
// history, extra alert lines, tenants, server panel, so the state and alerts always show.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "tools/tr7top/model.h"

namespace tr7::top {

enum class Style : uint8_t { Normal, Title, Heading, Good, Info, Warn, Bad, Dim, Plot };
Style style_of(Tone t);

struct Span {
  std::string text;  // UTF-8, no control characters
  Style style = Style::Normal;
};
using Line = std::vector<Span>;

struct Frame {
  std::vector<Line> lines;  // at most `rows`; each at most `cols` columns
  size_t sources_total = 0;
  size_t sources_shown = 0;  // rows of the sources table on screen
  size_t max_scroll = 0;
};

struct UiState {
  bool show_local = true;  // times of day in the daemon's zone (t: UTC)
  bool paused = false;
  bool help = false;
  SortKey sort = SortKey::Daemon;
  size_t scroll = 0;  // first source row shown
};

struct Context {
  size_t rows = 24, cols = 80;
  Now now;
  std::string host;
  std::string socket;
  double interval_s = 1;
  double history_window_s = 600;
  bool utf8 = true;
};

// Builds the screen. Clamps ui.scroll to what the table allows.
Frame compose(const Model& m, UiState& ui, const Context& ctx);
// A frame as plain text, one '\n'-terminated line per row (for tests and debugging).
std::string frame_text(const Frame& f);
size_t line_width(const Line& l);

enum class Key : uint8_t { None, Quit, Help, Sort, ToggleZone, Pause, Up, Down, PageUp, PageDown, Home, End, Other };
// Applies a key. Returns false when tr7top should quit. While the help page is shown,
// every key except q closes it.
bool handle_key(UiState& ui, Key k, const Frame& shown);
// The key for a character typed ('q', 'Q', '?', 'h', 's', 't', 'p', ' ', ...).
Key key_for_char(int ch);

}  // namespace tr7::top
