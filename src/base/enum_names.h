// enum_names.h - an enum's words in one table, read both ways.
//
// What: EnumName<E> pairs a value with the word configuration and status
//   use for it; enum_name() gives a value's word ("?" for a value not in
//   the table), enum_from_name() the value of a word (exact, case-sensitive;
//   nullopt for any other text). For enums that are both parsed and
//   printed, so each word is written once.
// Design: a constant array scanned linearly (a handful of entries). Unlike
//   a switch, the compiler does not flag an enumerator missing from the
//   table: the owner's tests read every value back.
// Thread-safety: pure functions over constant tables.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace dps::base {

template <typename E>
struct EnumName {
  E value;
  const char* name;
};

template <typename E, size_t N>
constexpr const char* enum_name(E v, const EnumName<E> (&names)[N]) {
  for (const EnumName<E>& n : names)
    if (n.value == v) return n.name;
  return "?";
}

template <typename E, size_t N>
constexpr std::optional<E> enum_from_name(std::string_view text, const EnumName<E> (&names)[N]) {
  for (const EnumName<E>& n : names)
    if (text == n.name) return n.value;
  return std::nullopt;
}

}  // namespace dps::base
