#include "types.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

namespace dps::confdb {

json OvsdbError::to_json() const {
  json j = json::object();
  j["error"] = error;
  if (!details.empty()) j["details"] = details;
  return j;
}

void fail(std::string error, std::string details) {
  throw OvsdbError{std::move(error), std::move(details)};
}

// ---- Uuid ------------------------------------------------------------------

std::string Uuid::to_string() const {
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(hi >> 32), static_cast<unsigned>((hi >> 16) & 0xffff),
                static_cast<unsigned>(hi & 0xffff), static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

std::optional<Uuid> Uuid::parse(std::string_view s) {
  if (s.size() != 36) return std::nullopt;
  Uuid u;
  int nibbles = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return std::nullopt;
      continue;
    }
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else return std::nullopt;
    uint64_t& half = nibbles < 16 ? u.hi : u.lo;
    half = (half << 4) | static_cast<uint64_t>(v);
    ++nibbles;
  }
  return u;
}

Uuid Uuid::random() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  Uuid u{rng(), rng()};
  u.hi = (u.hi & ~0xf000ULL) | 0x4000ULL;                         // version 4
  u.lo = (u.lo & ~(0xc000ULL << 48)) | (0x8000ULL << 48);        // RFC 4122 variant
  return u;
}

// ---- atomic types ----------------------------------------------------------

const char* atomic_type_name(AtomicType t) {
  switch (t) {
    case AtomicType::Integer: return "integer";
    case AtomicType::Real: return "real";
    case AtomicType::Boolean: return "boolean";
    case AtomicType::String: return "string";
    case AtomicType::Uuid: return "uuid";
  }
  return "?";
}

std::optional<AtomicType> atomic_type_from_name(std::string_view s) {
  if (s == "integer") return AtomicType::Integer;
  if (s == "real") return AtomicType::Real;
  if (s == "boolean") return AtomicType::Boolean;
  if (s == "string") return AtomicType::String;
  if (s == "uuid") return AtomicType::Uuid;
  return std::nullopt;
}

std::string atom_to_string(const Atom& a) {
  switch (atom_type(a)) {
    case AtomicType::Integer: return std::to_string(std::get<int64_t>(a));
    case AtomicType::Real: return json(std::get<double>(a)).dump();
    case AtomicType::Boolean: return std::get<bool>(a) ? "true" : "false";
    case AtomicType::String: return json(std::get<std::string>(a)).dump();
    case AtomicType::Uuid: return std::get<Uuid>(a).to_string();
  }
  return "?";
}

// ---- BaseType --------------------------------------------------------------

static void require(bool ok, const std::string& where, const std::string& what) {
  if (!ok) fail("syntax error", where + ": " + what);
}

static int64_t json_int(const json& j, const std::string& where) {
  if (j.is_number_integer()) {
    if (j.is_number_unsigned() && j.get<uint64_t>() > uint64_t(INT64_MAX))
      fail("syntax error", where + ": integer out of 64-bit range");
    return j.get<int64_t>();
  }
  fail("syntax error", where + ": expected integer, got " + j.dump());
}

BaseType BaseType::from_json(const json& j, const std::string& where) {
  BaseType bt;
  if (j.is_string()) {
    auto t = atomic_type_from_name(j.get<std::string>());
    require(t.has_value(), where, "unknown atomic type " + j.dump());
    bt.type = *t;
    return bt;
  }
  require(j.is_object() && j.contains("type") && j["type"].is_string(), where,
          "base type must be a string or an object with \"type\"");
  auto t = atomic_type_from_name(j["type"].get<std::string>());
  require(t.has_value(), where, "unknown atomic type " + j["type"].dump());
  bt.type = *t;
  if (j.contains("enum")) {
    Type et;
    et.key.type = bt.type;
    et.min = 1;
    et.max = kUnlimited;
    Datum d = datum_from_json(j["enum"], et, nullptr, where + " enum", false);
    bt.enumeration = d.keys;
  }
  if (j.contains("minInteger")) bt.min_integer = json_int(j["minInteger"], where);
  if (j.contains("maxInteger")) bt.max_integer = json_int(j["maxInteger"], where);
  if (j.contains("minReal")) bt.min_real = j["minReal"].get<double>();
  if (j.contains("maxReal")) bt.max_real = j["maxReal"].get<double>();
  if (j.contains("minLength")) bt.min_length = static_cast<uint64_t>(json_int(j["minLength"], where));
  if (j.contains("maxLength")) bt.max_length = static_cast<uint64_t>(json_int(j["maxLength"], where));
  if (j.contains("refTable")) {
    require(bt.type == AtomicType::Uuid, where, "refTable on a non-uuid type");
    bt.ref_table = j["refTable"].get<std::string>();
    if (j.contains("refType")) {
      std::string rt = j["refType"].get<std::string>();
      require(rt == "strong" || rt == "weak", where, "refType must be strong or weak");
      bt.ref_strong = rt == "strong";
    }
  }
  return bt;
}

json BaseType::to_json() const {
  bool plain = enumeration.empty() && ref_table.empty() &&
               min_integer == std::numeric_limits<int64_t>::min() &&
               max_integer == std::numeric_limits<int64_t>::max() && std::isinf(min_real) &&
               std::isinf(max_real) && min_length == 0 && max_length == kUnlimited;
  if (plain) return atomic_type_name(type);
  json j = {{"type", atomic_type_name(type)}};
  if (!enumeration.empty()) {
    json a = json::array();
    for (auto& e : enumeration) a.push_back(atom_to_json(e));
    j["enum"] = json::array({"set", a});
  }
  if (min_integer != std::numeric_limits<int64_t>::min()) j["minInteger"] = min_integer;
  if (max_integer != std::numeric_limits<int64_t>::max()) j["maxInteger"] = max_integer;
  if (!std::isinf(min_real)) j["minReal"] = min_real;
  if (!std::isinf(max_real)) j["maxReal"] = max_real;
  if (min_length) j["minLength"] = min_length;
  if (max_length != kUnlimited) j["maxLength"] = max_length;
  if (!ref_table.empty()) {
    j["refTable"] = ref_table;
    if (!ref_strong) j["refType"] = "weak";
  }
  return j;
}

Atom BaseType::default_atom() const {
  switch (type) {
    case AtomicType::Integer: return int64_t{0};
    case AtomicType::Real: return 0.0;
    case AtomicType::Boolean: return false;
    case AtomicType::String: return std::string();
    case AtomicType::Uuid: return Uuid{};
  }
  return int64_t{0};
}

static size_t utf8_length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xc0) != 0x80;
  return n;
}

void BaseType::check(const Atom& a, const std::string& where) const {
  if (!enumeration.empty() &&
      !std::binary_search(enumeration.begin(), enumeration.end(), a)) {
    std::string allowed;
    for (auto& e : enumeration) allowed += (allowed.empty() ? "" : ", ") + atom_to_string(e);
    fail("constraint violation",
         where + ": " + atom_to_string(a) + " is not one of the allowed values (" + allowed + ")");
  }
  switch (type) {
    case AtomicType::Integer: {
      int64_t v = std::get<int64_t>(a);
      if (v < min_integer || v > max_integer)
        fail("constraint violation", where + ": " + std::to_string(v) + " is not in the range " +
                                         std::to_string(min_integer) + " to " +
                                         std::to_string(max_integer));
      break;
    }
    case AtomicType::Real: {
      double v = std::get<double>(a);
      if (v < min_real || v > max_real)
        fail("constraint violation", where + ": " + json(v).dump() + " is out of range");
      break;
    }
    case AtomicType::String: {
      size_t n = utf8_length(std::get<std::string>(a));
      if (n < min_length || n > max_length)
        fail("constraint violation", where + ": string " + atom_to_string(a) + " length " +
                                         std::to_string(n) + " is out of range");
      break;
    }
    default: break;
  }
}

// ---- Type ------------------------------------------------------------------

Type Type::from_json(const json& j, const std::string& where) {
  Type t;
  if (j.is_string()) {
    t.key = BaseType::from_json(j, where);
    return t;
  }
  require(j.is_object() && j.contains("key"), where, "type must be a string or an object with \"key\"");
  t.key = BaseType::from_json(j["key"], where);
  if (j.contains("value")) t.value = BaseType::from_json(j["value"], where);
  if (j.contains("min")) {
    int64_t m = json_int(j["min"], where);
    require(m == 0 || m == 1, where, "min must be 0 or 1");
    t.min = static_cast<uint64_t>(m);
  }
  if (j.contains("max")) {
    if (j["max"].is_string()) {
      require(j["max"] == "unlimited", where, "max must be a positive integer or \"unlimited\"");
      t.max = kUnlimited;
    } else {
      int64_t m = json_int(j["max"], where);
      require(m >= 1, where, "max must be at least 1");
      t.max = static_cast<uint64_t>(m);
    }
  }
  require(t.min <= t.max, where, "min exceeds max");
  return t;
}

json Type::to_json() const {
  if (!value && min == 1 && max == 1) return key.to_json();
  json j = {{"key", key.to_json()}};
  if (value) j["value"] = value->to_json();
  if (min != 1) j["min"] = min;
  if (max == kUnlimited) j["max"] = "unlimited";
  else if (max != 1) j["max"] = max;
  return j;
}

// ---- Datum -----------------------------------------------------------------

std::optional<size_t> Datum::find(const Atom& key) const {
  auto it = std::lower_bound(keys.begin(), keys.end(), key);
  if (it == keys.end() || *it != key) return std::nullopt;
  return static_cast<size_t>(it - keys.begin());
}

bool Datum::insert(Atom key, std::optional<Atom> value) {
  auto it = std::lower_bound(keys.begin(), keys.end(), key);
  if (it != keys.end() && *it == key) return false;
  size_t i = static_cast<size_t>(it - keys.begin());
  keys.insert(it, std::move(key));
  if (value) values.insert(values.begin() + static_cast<ptrdiff_t>(i), std::move(*value));
  return true;
}

void Datum::put(Atom key, Atom value) {
  if (auto i = find(key)) {
    values[*i] = std::move(value);
    return;
  }
  insert(std::move(key), std::move(value));
}

bool Datum::erase(const Atom& key) {
  auto i = find(key);
  if (!i) return false;
  erase_at(*i);
  return true;
}

void Datum::erase_at(size_t i) {
  keys.erase(keys.begin() + static_cast<ptrdiff_t>(i));
  if (!values.empty()) values.erase(values.begin() + static_cast<ptrdiff_t>(i));
}

Datum Datum::default_for(const Type& t) {
  Datum d;
  if (t.min == 0) return d;
  d.keys.push_back(t.key.default_atom());
  if (t.value) d.values.push_back(t.value->default_atom());
  return d;
}

// ---- JSON ------------------------------------------------------------------

static bool is_uuid_pair(const json& j, const char* tag) {
  return j.is_array() && j.size() == 2 && j[0].is_string() && j[0] == tag && j[1].is_string();
}

Atom atom_from_json(const json& j, const BaseType& bt, const NamedUuidResolver* names,
                    const std::string& where) {
  switch (bt.type) {
    case AtomicType::Integer:
      return json_int(j, where);
    case AtomicType::Real:
      if (!j.is_number()) fail("syntax error", where + ": expected real, got " + j.dump());
      return j.get<double>();
    case AtomicType::Boolean:
      if (!j.is_boolean()) fail("syntax error", where + ": expected boolean, got " + j.dump());
      return j.get<bool>();
    case AtomicType::String:
      if (!j.is_string()) fail("syntax error", where + ": expected string, got " + j.dump());
      return j.get<std::string>();
    case AtomicType::Uuid:
      if (is_uuid_pair(j, "uuid")) {
        auto u = Uuid::parse(j[1].get_ref<const std::string&>());
        if (!u) fail("syntax error", where + ": " + j[1].dump() + " is not a valid UUID");
        return *u;
      }
      if (is_uuid_pair(j, "named-uuid")) {
        if (!names) fail("syntax error", where + ": named-uuid is only valid inside a transaction");
        return (*names)(j[1].get<std::string>());
      }
      fail("syntax error", where + ": expected [\"uuid\", UUID] or [\"named-uuid\", NAME], got " + j.dump());
  }
  fail("syntax error", where);
}

json atom_to_json(const Atom& a) {
  switch (atom_type(a)) {
    case AtomicType::Integer: return std::get<int64_t>(a);
    case AtomicType::Real: return std::get<double>(a);
    case AtomicType::Boolean: return std::get<bool>(a);
    case AtomicType::String: return std::get<std::string>(a);
    case AtomicType::Uuid: return json::array({"uuid", std::get<Uuid>(a).to_string()});
  }
  return nullptr;
}

void check_datum(const Datum& d, const Type& t, const std::string& where) {
  if (d.size() < t.min || d.size() > t.max) {
    std::string range = std::to_string(t.min) + " to " +
                        (t.max == kUnlimited ? std::string("unlimited") : std::to_string(t.max));
    fail("constraint violation", where + ": " + std::to_string(d.size()) +
                                     " value(s) where the column allows " + range);
  }
  for (size_t i = 0; i < d.size(); ++i) {
    t.key.check(d.keys[i], where);
    if (t.value) t.value->check(d.values[i], where);
  }
}

Datum datum_from_json(const json& j, const Type& t, const NamedUuidResolver* names,
                      const std::string& where, bool check_constraints) {
  Datum d;
  if (t.is_map()) {
    if (!(j.is_array() && j.size() == 2 && j[0] == "map" && j[1].is_array()))
      fail("syntax error", where + ": expected [\"map\", [[key, value], ...]], got " + j.dump());
    for (auto& pair : j[1]) {
      if (!pair.is_array() || pair.size() != 2)
        fail("syntax error", where + ": map element must be [key, value], got " + pair.dump());
      Atom k = atom_from_json(pair[0], t.key, names, where);
      Atom v = atom_from_json(pair[1], *t.value, names, where);
      if (!d.insert(std::move(k), std::move(v)))
        fail("constraint violation", where + ": map has duplicate key " + pair[0].dump());
    }
  } else if (j.is_array() && j.size() == 2 && j[0] == "set") {
    if (!j[1].is_array()) fail("syntax error", where + ": [\"set\", X] needs an array, got " + j.dump());
    for (auto& e : j[1]) {
      if (!d.insert(atom_from_json(e, t.key, names, where)))
        fail("constraint violation", where + ": set has duplicate element " + e.dump());
    }
  } else {
    d.insert(atom_from_json(j, t.key, names, where));
  }
  if (check_constraints) check_datum(d, t, where);
  return d;
}

json datum_to_json(const Datum& d, const Type& t) {
  if (t.is_map()) {
    json a = json::array();
    for (size_t i = 0; i < d.size(); ++i)
      a.push_back(json::array({atom_to_json(d.keys[i]), atom_to_json(d.values[i])}));
    return json::array({"map", a});
  }
  if (d.size() == 1) return atom_to_json(d.keys[0]);
  json a = json::array();
  for (auto& k : d.keys) a.push_back(atom_to_json(k));
  return json::array({"set", a});
}

}  // namespace dps::confdb
