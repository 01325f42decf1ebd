// tr7::Result<T, E>: a value or an error, for code that neither throws nor logs (the core).
//
// The method names follow C++23 std::expected (has_value, value, error, value_or), so the
// switch to std::expected is a rename once the toolchain has it (g++ 12 does not).
#pragma once

#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace tr7 {

template <class E>
struct Unexpected {
  E m_error;
};

template <class E>
Unexpected<std::decay_t<E>> unexpected(E&& e) {
  return Unexpected<std::decay_t<E>>{std::forward<E>(e)};
}

template <class T, class E = std::string>
class [[nodiscard]] Result {
 public:
  Result(const T& v) : m_v(std::in_place_index<0>, v) {}  // NOLINT: implicit by design
  Result(T&& v) : m_v(std::in_place_index<0>, std::move(v)) {}  // NOLINT
  template <class G>
  Result(Unexpected<G> u) : m_v(std::in_place_index<1>, std::move(u.m_error)) {}  // NOLINT

  bool has_value() const noexcept { return m_v.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  T& value() & { return std::get<0>(m_v); }
  const T& value() const& { return std::get<0>(m_v); }
  T&& value() && { return std::get<0>(std::move(m_v)); }
  const E& error() const& { return std::get<1>(m_v); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  template <class U>
  T value_or(U&& d) const& {
    return has_value() ? value() : static_cast<T>(std::forward<U>(d));
  }

 private:
  std::variant<T, E> m_v;
};

template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  template <class G>
  Result(Unexpected<G> u) : m_ok(false), m_error(std::move(u.m_error)) {}  // NOLINT
  bool has_value() const noexcept { return m_ok; }
  explicit operator bool() const noexcept { return m_ok; }
  const E& error() const& { return m_error; }

 private:
  bool m_ok = true;
  E m_error{};
};

}  // namespace tr7
