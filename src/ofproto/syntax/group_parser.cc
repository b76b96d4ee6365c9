// The `ovs-ofctl add-group` syntax: a head (group_id, type), then buckets,
// each "bucket=[weight:W,][watch_port:P,][watch_group:G,]actions=..." or
// "bucket=ACTIONS".
#include <string>
#include <string_view>
#include <vector>

#include "flow_parser.h"
#include "syntax_text.h"

namespace dps::ofproto {

using namespace syntax;

namespace {

// Splits at "bucket=": the head, then the text of each bucket.
void split_buckets(std::string_view text, std::string_view* head, std::vector<std::string_view>* buckets) {
  size_t b = text.find("bucket=");
  *head = text.substr(0, b);
  while (b != std::string_view::npos) {
    size_t pos = b + 7;
    b = text.find("bucket=", pos);
    buckets->push_back(text.substr(pos, b == std::string_view::npos ? std::string_view::npos : b - pos));
  }
}

MaybeError parse_group_type(std::string_view val, GroupType* out) {
  std::string ty = lower(val);
  if (ty == "all") *out = GroupType::kAll;
  else if (ty == "select") *out = GroupType::kSelect;
  else if (ty == "indirect") *out = GroupType::kIndirect;
  else if (ty == "ff" || ty == "fast_failover") *out = GroupType::kFastFailover;
  else return perr("type: unknown group type '" + std::string(val) + "' (all, select, indirect, ff)");
  return std::nullopt;
}

// group_id=N|all and type=..., both required.
MaybeError parse_group_head(std::string_view text, GroupMod* gm) {
  std::vector<std::string_view> head;
  if (MaybeError e = split_top(text, &head)) return e;
  bool have_id = false, have_type = false;
  for (std::string_view t : head) {
    size_t eq = t.find('=');
    std::string key = lower(trim(t.substr(0, eq)));
    std::string_view val = eq == std::string_view::npos ? std::string_view{} : trim(t.substr(eq + 1));
    if (key == "group_id") {
      auto v = lower(val) == "all" ? std::optional<uint64_t>(kGroupAll) : parse_uint_max(val, 0xffffffffull);
      if (!v) return perr("group_id: bad value '" + std::string(val) + "'");
      gm->group_id = static_cast<uint32_t>(*v);
      have_id = true;
    } else if (key == "type") {
      if (MaybeError e = parse_group_type(val, &gm->type)) return e;
      have_type = true;
    } else {
      return perr("unknown group keyword '" + key + "'");
    }
  }
  if (!have_id) return perr("group_id is required");
  if (!have_type) return perr("type is required");
  return std::nullopt;
}

// One "weight:W" / "watch_port:P" / "watch_group:G" (':' or '=').
MaybeError parse_bucket_option(std::string_view o, GroupBucket* b) {
  size_t sep = o.find_first_of(":=");
  std::string key = lower(trim(o.substr(0, sep)));
  std::string_view val = sep == std::string_view::npos ? std::string_view{} : o.substr(sep + 1);
  if (key == "weight") {
    auto v = parse_uint_max(val, 0xffff);
    if (!v) return perr("bucket weight: bad value '" + std::string(val) + "'");
    b->weight = static_cast<uint16_t>(*v);
  } else if (key == "watch_port") {
    auto v = parse_port(val);
    if (!v) return perr("bucket watch_port: bad port '" + std::string(val) + "'");
    b->watch_port = *v;
  } else if (key == "watch_group") {
    auto v = parse_uint_max(val, 0xffffffffull);
    if (!v) return perr("bucket watch_group: bad value '" + std::string(val) + "'");
    b->watch_group = static_cast<uint32_t>(*v);
  } else {
    return perr("unknown bucket keyword '" + key + "'");
  }
  return std::nullopt;
}

// Bucket number n (from 1): options before actions=, or actions alone.
MaybeError parse_bucket(std::string_view body, size_t n, GroupBucket* b) {
  body = trim(body);
  while (!body.empty() && body.back() == ',') body = trim(body.substr(0, body.size() - 1));
  std::string_view acts = body;
  size_t ap = body.find("actions=");
  if (ap != std::string_view::npos) {
    std::vector<std::string_view> opts;
    if (MaybeError e = split_top(body.substr(0, ap), &opts)) return e;
    for (std::string_view o : opts)
      if (MaybeError e = parse_bucket_option(o, b)) return e;
    acts = body.substr(ap + 8);
  }
  if (MaybeError e = parse_actions(acts, OfMatch{}, &b->actions)) {
    e->message = "bucket " + std::to_string(n) + ": " + e->message;
    return e;
  }
  return std::nullopt;
}

}  // namespace

MaybeError parse_group(std::string_view text, GroupMod* out) {
  std::string_view head;
  std::vector<std::string_view> bodies;
  split_buckets(text, &head, &bodies);
  GroupMod gm;
  if (MaybeError e = parse_group_head(head, &gm)) return e;
  for (size_t i = 0; i < bodies.size(); i++) {
    GroupBucket b;
    if (MaybeError e = parse_bucket(bodies[i], i + 1, &b)) return e;
    gm.buckets.push_back(std::move(b));
  }
  *out = std::move(gm);
  return std::nullopt;
}

}  // namespace dps::ofproto
