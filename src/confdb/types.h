// types.h - the value model of RFC 7047: UUIDs, atoms, datums, column types.
//
// What: an Atom is one integer, real, boolean, string or uuid; a Datum is the
//   value of a column: a set of atoms, or a map from atoms to atoms (a scalar
//   column is a set of exactly one). A Type describes a column: key (and value
//   for maps) base types with their constraints, and min/max element counts.
// Design: a Datum keeps its keys sorted and unique in a std::vector (config
//   rows hold a handful of elements, so sorted vectors beat node containers),
//   with a parallel values vector for maps. JSON conversion follows the wire
//   format exactly: ["uuid",U], ["named-uuid",N], ["set",[...]], ["map",[...]],
//   a set of one element written as the bare atom.
// Thread-safety: plain values; no shared state.
#pragma once

#include <nlohmann/json.hpp>

#include <compare>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace dps::confdb {

using json = nlohmann::json;

// An RFC 7047 error object: {"error": error, "details": details}. Thrown by
// parsing and execution code, caught at the transaction / JSON-RPC boundary.
struct OvsdbError {
  std::string error;    // e.g. "constraint violation", "syntax error"
  std::string details;  // what is wrong and where
  json to_json() const;
};
[[noreturn]] void fail(std::string error, std::string details);

struct Uuid {
  uint64_t hi = 0;
  uint64_t lo = 0;
  auto operator<=>(const Uuid&) const = default;
  bool is_zero() const { return hi == 0 && lo == 0; }
  std::string to_string() const;
  static std::optional<Uuid> parse(std::string_view s);
  static Uuid random();  // version-4 UUID
};

enum class AtomicType : uint8_t { Integer, Real, Boolean, String, Uuid };
const char* atomic_type_name(AtomicType t);
std::optional<AtomicType> atomic_type_from_name(std::string_view s);

// Index order matches AtomicType.
using Atom = std::variant<int64_t, double, bool, std::string, Uuid>;
inline AtomicType atom_type(const Atom& a) { return static_cast<AtomicType>(a.index()); }

// Resolves ["named-uuid", NAME] while parsing a transaction; absent outside one.
using NamedUuidResolver = std::function<Uuid(const std::string& name)>;

struct BaseType {
  AtomicType type = AtomicType::Integer;
  std::vector<Atom> enumeration;  // sorted; empty = no enum constraint
  int64_t min_integer = std::numeric_limits<int64_t>::min();
  int64_t max_integer = std::numeric_limits<int64_t>::max();
  double min_real = -std::numeric_limits<double>::infinity();
  double max_real = std::numeric_limits<double>::infinity();
  uint64_t min_length = 0;
  uint64_t max_length = std::numeric_limits<uint64_t>::max();
  std::string ref_table;  // uuid only; empty = not a reference
  bool ref_strong = true;

  static BaseType from_json(const json& j, const std::string& where);
  json to_json() const;
  Atom default_atom() const;
  // Throws "constraint violation" naming `where` when `a` breaks a constraint.
  void check(const Atom& a, const std::string& where) const;
  bool is_ref() const { return type == AtomicType::Uuid && !ref_table.empty(); }
};

inline constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();

struct Type {
  BaseType key;
  std::optional<BaseType> value;
  uint64_t min = 1;
  uint64_t max = 1;

  static Type from_json(const json& j, const std::string& where);
  json to_json() const;
  bool is_map() const { return value.has_value(); }
  bool is_scalar() const { return !value && min == 1 && max == 1; }
  bool is_optional() const { return min == 0 && max == 1; }
};

struct Datum {
  std::vector<Atom> keys;    // sorted, unique
  std::vector<Atom> values;  // maps only: values[i] belongs to keys[i]

  bool operator==(const Datum&) const = default;
  size_t size() const { return keys.size(); }
  bool empty() const { return keys.empty(); }
  std::optional<size_t> find(const Atom& key) const;
  bool contains(const Atom& key) const { return find(key).has_value(); }
  // Set insert / map insert-if-absent. Returns false when the key existed.
  bool insert(Atom key, std::optional<Atom> value = std::nullopt);
  // Map: replaces the value when the key exists.
  void put(Atom key, Atom value);
  bool erase(const Atom& key);
  void erase_at(size_t i);

  static Datum scalar(Atom a) { Datum d; d.keys.push_back(std::move(a)); return d; }
  static Datum default_for(const Type& t);
};

// Wire format conversions.
Atom atom_from_json(const json& j, const BaseType& bt, const NamedUuidResolver* names,
                    const std::string& where);
json atom_to_json(const Atom& a);
// Parses and validates against `t` (element count and every atom's
// constraints). Throws OvsdbError("syntax error" / "constraint violation").
Datum datum_from_json(const json& j, const Type& t, const NamedUuidResolver* names,
                      const std::string& where, bool check_constraints = true);
json datum_to_json(const Datum& d, const Type& t);
// Checks count and atom constraints of an already-built datum.
void check_datum(const Datum& d, const Type& t, const std::string& where);
// A human-readable form for error details.
std::string atom_to_string(const Atom& a);

}  // namespace dps::confdb
