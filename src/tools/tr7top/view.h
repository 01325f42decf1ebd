// tr7top: the terminal — the only part that touches curses.
//
// CursesSession owns the curses screen (STYLE.md §3): constructing it enters curses
// mode (alternate screen, no echo, keypad, non-blocking input); destroying it — on
// return, exception or a signal that ended the main loop — restores the terminal. It
// never calls initscr(), which exits the process on failure: newterm() errors become
// a tr7::top::TerminalError.
//
// The View draws Frames (screen.h) and turns key codes into Keys. Colours follow the
// Style of each span; with NO_COLOR set (https://no-color.org) or a terminal without
// colours it uses attributes only (bold, reverse, dim, underline).
#pragma once

#include <stdexcept>
#include <string>

#include "tools/tr7top/screen.h"

struct screen;  // curses' SCREEN

namespace tr7::top {

struct TerminalError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class CursesSession {
 public:
  // `color`: use colours if the terminal has them. `mouse`: report the wheel.
  CursesSession(bool color, bool mouse);
  ~CursesSession();
  CursesSession(const CursesSession&) = delete;
  CursesSession& operator=(const CursesSession&) = delete;

  bool color() const { return m_color; }

 private:
  screen* m_screen = nullptr;
  bool m_color = false;
};

class View {
 public:
  explicit View(const CursesSession& s) : m_color(s.color()) {}
  // Terminal size in rows and columns.
  size_t rows() const;
  size_t cols() const;
  // The size changed (SIGWINCH): tell curses, which then redraws everything.
  void resize();
  void draw(const Frame& f);
  // The next key typed, Key::None when there is none (never waits).
  Key read_key();

 private:
  int attr_of(Style s) const;
  bool m_color;
};

}  // namespace tr7::top
