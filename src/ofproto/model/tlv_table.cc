#include "tlv_table.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "bridge.h"

namespace dps::ofproto {

namespace {

OfError ttm(NxErrorCode c, std::string m) { return OfError::nx(c, std::move(m)); }

std::string option_text(const TlvMap& m) {
  char b[64];
  std::snprintf(b, sizeof b, "{class=0x%x,type=0x%x,len=%u}", m.opt_class, m.opt_type, m.opt_len);
  return b;
}

std::string field_text(unsigned index) { return "tun_metadata" + std::to_string(index); }

// First fit of len bytes (a multiple of 4) in the option space left free
// by maps; -1 when there is no room.
int first_fit(const std::vector<TlvMapping>& maps, unsigned len) {
  bool used[TlvTable::kMaxOptionSpace] = {};
  for (const TlvMapping& m : maps)
    for (unsigned i = m.offset; i < m.offset + m.opt_len && i < TlvTable::kMaxOptionSpace; i++) used[i] = true;
  for (unsigned off = 0; off + len <= TlvTable::kMaxOptionSpace; off += 4) {
    bool free = true;
    for (unsigned i = off; i < off + len && free; i++) free = !used[i];
    if (free) return static_cast<int>(off);
  }
  return -1;
}

// Checks one entry of an add against what is mapped so far (maps).
MaybeError check_add(const std::vector<TlvMapping>& maps, const TlvMap& m) {
  if (m.opt_len == 0 || m.opt_len % 4 || m.opt_len > TlvTable::kMaxOptLen)
    return ttm(NxErrorCode::kTtmBadOptLen, "TLV option " + option_text(m) +
                                               ": length must be a multiple of 4 in 4..124");
  if (m.index >= TlvTable::kMaxFields)
    return ttm(NxErrorCode::kTtmBadFieldIdx,
               "TLV option " + option_text(m) + ": " + field_text(m.index) + " does not exist (0..63)");
  for (const TlvMapping& x : maps) {
    if (x.index == m.index)
      return ttm(NxErrorCode::kTtmAlreadyMapped, field_text(m.index) + " is already mapped (to " +
                                                     option_text({x.opt_class, x.opt_type, x.opt_len, x.index}) + ")");
    if (x.opt_class == m.opt_class && x.opt_type == m.opt_type)
      return ttm(NxErrorCode::kTtmDupEntry, "TLV option " + option_text(m) + " is already mapped to " +
                                                field_text(x.index));
  }
  return std::nullopt;
}

void uses_of_actions(const ActionList& acts, uint64_t* out) {
  for (const OfAction& a : acts)
    if (const auto* s = std::get_if<ActSetField>(&a); s && is_tun_metadata(s->field))
      *out |= uint64_t{1} << tun_metadata_index(s->field);
}

}  // namespace

const TlvMapping* TlvTable::by_index(unsigned index) const {
  for (const TlvMapping& m : maps_)
    if (m.index == index) return &m;
  return nullptr;
}

const TlvMapping* TlvTable::by_option(uint16_t opt_class, uint8_t opt_type, uint8_t opt_len) const {
  for (const TlvMapping& m : maps_)
    if (m.opt_class == opt_class && m.opt_type == opt_type && m.opt_len == opt_len) return &m;
  return nullptr;
}

MaybeError TlvTable::apply(const TlvTableMod& mod) {
  switch (mod.command) {
    case TlvTableCommand::kAdd: return add(mod.maps);
    case TlvTableCommand::kDelete: return remove(mod.maps);
    case TlvTableCommand::kClear: return clear();
  }
  return ttm(NxErrorCode::kTtmBadCommand,
             "TLV table command " + std::to_string(static_cast<unsigned>(mod.command)) + " is unknown");
}

MaybeError TlvTable::add(const std::vector<TlvMap>& maps) {
  std::vector<TlvMapping> next = maps_;
  for (const TlvMap& m : maps) {
    if (MaybeError e = check_add(next, m)) return e;
    int off = first_fit(next, m.opt_len);
    unsigned used = 0;
    for (const TlvMapping& x : next) used += x.opt_len;
    if (off < 0)
      return ttm(NxErrorCode::kTtmTableFull,
                 "TLV option " + option_text(m) + " does not fit: " + std::to_string(used) + " of " +
                     std::to_string(kMaxOptionSpace) + " option bytes are mapped (contiguous room needed)");
    next.push_back({m.opt_class, m.opt_type, m.opt_len, static_cast<uint8_t>(m.index),
                    static_cast<uint8_t>(off)});
  }
  commit(std::move(next));
  return std::nullopt;
}

MaybeError TlvTable::remove(const std::vector<TlvMap>& del) {
  // By index, as OVS: an index not mapped is skipped.
  const uint64_t in_use = indices_in_use();
  for (const TlvMap& m : del) {
    if (m.index >= kMaxFields)
      return ttm(NxErrorCode::kTtmBadFieldIdx, field_text(m.index) + " does not exist (0..63)");
    if ((in_use >> m.index) & 1)
      return ttm(NxErrorCode::kTtmInvalidTlvDel,
                 field_text(m.index) + " is used by flows or groups; delete them first");
  }
  std::vector<TlvMapping> next;
  for (const TlvMapping& x : maps_) {
    bool gone = std::any_of(del.begin(), del.end(), [&](const TlvMap& m) { return m.index == x.index; });
    if (!gone) next.push_back(x);
  }
  commit(std::move(next));
  return std::nullopt;
}

MaybeError TlvTable::clear() {
  const uint64_t in_use = indices_in_use();
  if (in_use) {
    unsigned n = 0;
    while (!((in_use >> n) & 1)) n++;
    return ttm(NxErrorCode::kTtmInvalidTlvDel,
               field_text(n) + " is used by flows or groups; delete them before clearing the TLV table");
  }
  commit({});
  return std::nullopt;
}

void TlvTable::commit(std::vector<TlvMapping> maps) {
  std::sort(maps.begin(), maps.end(), [](const TlvMapping& a, const TlvMapping& b) { return a.index < b.index; });
  if (maps == maps_) return;
  maps_ = std::move(maps);
  layout_ = {};
  for (const TlvMapping& m : maps_) layout_.loc[m.index] = {m.offset, m.opt_len};
  version_++;
}

TlvTableReply TlvTable::reply() const {
  TlvTableReply r;
  r.max_option_space = kMaxOptionSpace;
  r.max_fields = kMaxFields;
  for (const TlvMapping& m : maps_) r.maps.push_back({m.opt_class, m.opt_type, m.opt_len, m.index});
  return r;
}

void TlvTable::attach(const Bridge* b) {
  if (std::find(users_.begin(), users_.end(), b) == users_.end()) users_.push_back(b);
}

void TlvTable::detach(const Bridge* b) { users_.erase(std::remove(users_.begin(), users_.end(), b), users_.end()); }

uint64_t TlvTable::indices_in_use() const {
  uint64_t out = 0;
  for (const Bridge* b : users_) out |= tun_metadata_in_use(b->pipeline);
  return out;
}

uint64_t tun_metadata_in_use(const Pipeline& p) {
  uint64_t out = 0;
  for (unsigned t = 0; t < kNumTables; t++)
    p.table(static_cast<uint8_t>(t)).for_each([&](const RulePtr& r) {
      out |= r->match.tun_metadata_set();
      if (r->instructions.apply) uses_of_actions(*r->instructions.apply, &out);
      if (r->instructions.write) uses_of_actions(*r->instructions.write, &out);
    });
  for (const auto& [id, g] : p.groups().all())
    for (const GroupBucket& b : g.buckets) uses_of_actions(b.actions, &out);
  return out;
}

}  // namespace dps::ofproto
