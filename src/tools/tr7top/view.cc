// The curses view (see view.h).
#include "tools/tr7top/view.h"

#include <curses.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>

namespace tr7::top {

namespace {

// Colour pairs, one per Style that has a colour.
enum Pair : short { k_title = 1, k_good, k_info, k_warn, k_bad, k_plot, k_heading };

}  // namespace

CursesSession::CursesSession(bool color, bool mouse) {
  if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
    throw TerminalError("tr7top needs a terminal (use tr7ntpc for scripts)");
  }
  m_screen = newterm(nullptr, stdout, stdin);
  if (m_screen == nullptr) {
    const char* term = std::getenv("TERM");
    throw TerminalError(std::string("cannot use the terminal type '") + (term ? term : "") + "'");
  }
  set_term(m_screen);
  cbreak();
  noecho();
  nonl();
  keypad(stdscr, TRUE);
  nodelay(stdscr, TRUE);
  curs_set(0);
  if (mouse) {
    mousemask(BUTTON4_PRESSED | BUTTON5_PRESSED, nullptr);
  }
  m_color = color && has_colors();
  if (m_color) {
    start_color();
    short bg = COLOR_BLACK;
    if (use_default_colors() == OK) {
      bg = -1;  // the terminal's own background
    }
    init_pair(k_title, COLOR_BLACK, COLOR_CYAN);
    init_pair(k_good, COLOR_GREEN, bg);
    init_pair(k_info, COLOR_CYAN, bg);
    init_pair(k_warn, COLOR_YELLOW, bg);
    init_pair(k_bad, COLOR_RED, bg);
    init_pair(k_plot, COLOR_CYAN, bg);
    init_pair(k_heading, COLOR_BLUE, bg);
  }
}

CursesSession::~CursesSession() {
  if (m_screen != nullptr) {
    endwin();
    delscreen(m_screen);
    std::fflush(stdout);
  }
}

size_t View::rows() const { return static_cast<size_t>(getmaxy(stdscr) > 0 ? getmaxy(stdscr) : 0); }
size_t View::cols() const { return static_cast<size_t>(getmaxx(stdscr) > 0 ? getmaxx(stdscr) : 0); }

void View::resize() {
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
    resizeterm(ws.ws_row, ws.ws_col);
  }
  clearok(curscr, TRUE);
}

int View::attr_of(Style s) const {
  if (m_color) {
    switch (s) {
      case Style::Normal:
        return A_NORMAL;
      case Style::Title:
        return static_cast<int>(COLOR_PAIR(k_title));
      case Style::Heading:
        return static_cast<int>(A_BOLD);
      case Style::Good:
        return static_cast<int>(COLOR_PAIR(k_good) | A_BOLD);
      case Style::Info:
        return static_cast<int>(COLOR_PAIR(k_info));
      case Style::Warn:
        return static_cast<int>(COLOR_PAIR(k_warn) | A_BOLD);
      case Style::Bad:
        return static_cast<int>(COLOR_PAIR(k_bad) | A_BOLD);
      case Style::Dim:
        return static_cast<int>(A_DIM);
      case Style::Plot:
        return static_cast<int>(COLOR_PAIR(k_plot));
    }
    return A_NORMAL;
  }
  switch (s) {  // monochrome: the words carry the meaning, attributes the emphasis
    case Style::Normal:
    case Style::Good:
    case Style::Info:
    case Style::Plot:
      return A_NORMAL;
    case Style::Title:
      return static_cast<int>(A_REVERSE);
    case Style::Heading:
    case Style::Warn:
      return static_cast<int>(A_BOLD);
    case Style::Bad:
      return static_cast<int>(A_BOLD | A_UNDERLINE);
    case Style::Dim:
      return static_cast<int>(A_DIM);
  }
  return A_NORMAL;
}

void View::draw(const Frame& f) {
  erase();
  int maxy = getmaxy(stdscr);
  for (size_t y = 0; y < f.lines.size() && static_cast<int>(y) < maxy; ++y) {
    move(static_cast<int>(y), 0);
    for (const auto& s : f.lines[y]) {
      attrset(static_cast<attr_t>(attr_of(s.style)));
      // The bottom-right cell makes addstr return ERR after writing it: harmless.
      (void)addstr(s.text.c_str());
    }
  }
  attrset(A_NORMAL);
  refresh();
}

Key View::read_key() {
  int ch = getch();
  switch (ch) {
    case ERR:
      return Key::None;
    case KEY_UP:
      return Key::Up;
    case KEY_DOWN:
      return Key::Down;
    case KEY_PPAGE:
      return Key::PageUp;
    case KEY_NPAGE:
      return Key::PageDown;
    case KEY_HOME:
      return Key::Home;
    case KEY_END:
      return Key::End;
    case KEY_MOUSE: {
      MEVENT ev;
      if (getmouse(&ev) == OK) {
        if (ev.bstate & BUTTON4_PRESSED) {
          return Key::Up;
        }
        if (ev.bstate & BUTTON5_PRESSED) {
          return Key::Down;
        }
      }
      return Key::Other;
    }
    case KEY_RESIZE:
      return Key::Other;  // curses has resized itself; the caller redraws
    default:
      return key_for_char(ch);
  }
}

}  // namespace tr7::top
