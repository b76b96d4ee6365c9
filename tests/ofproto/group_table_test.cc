// group_table_test.cc - the OpenFlow group table on its own (no pipeline,
// no bridge). Coverage goal: add / modify / delete semantics (ids kept in
// order, what a modify keeps, what a delete reports); every
// group_mod_failed code apply() produces, each leaving the table as it
// was; the select bucket choice (the same flow hash always picks the same
// bucket while the live set is unchanged, hash ranges in proportion to the
// weights, zero-weight and dead buckets never chosen); fast-failover (the
// first live bucket by watch_port and by watch_group, recursively, both
// watches needed when a bucket has two); chaining (loops refused through
// any depth, a forwarded-to group cannot go first).
#include <catch2/catch.hpp>

#include <set>

#include "group_table.h"

using namespace dps::ofproto;

namespace {

ActionList out(uint32_t port) { return ActionList{ActOutput{port}}; }
ActionList to_group(uint32_t id) { return ActionList{ActGroup{id}}; }

GroupBucket bucket(ActionList actions, uint16_t weight = 0, uint32_t watch_port = kPortAny,
                   uint32_t watch_group = kGroupAny) {
  return GroupBucket{.weight = weight, .watch_port = watch_port, .watch_group = watch_group,
                     .actions = std::move(actions)};
}

GroupMod mod(uint32_t id, GroupType type, std::vector<GroupBucket> buckets,
             GroupModCommand command = GroupModCommand::kAdd) {
  return GroupMod{.command = command, .type = type, .group_id = id, .buckets = std::move(buckets)};
}

GroupMod del(uint32_t id) { return mod(id, GroupType::kAll, {}, GroupModCommand::kDelete); }

// A fast-failover bucket that outputs to `port` and watches it.
GroupBucket watched(uint32_t port) { return bucket(out(port), 0, port); }

void add(GroupTable& t, const GroupMod& m, int64_t now = 0) {
  MaybeError e = t.apply(m, now);
  INFO("group " << m.group_id << ": " << (e ? e->message : ""));
  REQUIRE_FALSE(e);
}

// The table's content, to show that a refused mod changed nothing.
std::map<uint32_t, std::vector<GroupBucket>> snapshot(const GroupTable& t) {
  std::map<uint32_t, std::vector<GroupBucket>> s;
  for (const auto& [id, g] : t.all()) s[id] = g.buckets;
  return s;
}

}  // namespace

TEST_CASE("group table: add, modify and delete", "[ofproto][group]") {
  GroupTable t;
  add(t, mod(7, GroupType::kAll, {bucket(out(1)), bucket(out(2))}), 100);
  add(t, mod(3, GroupType::kIndirect, {bucket(out(3))}), 200);
  add(t, mod(5, GroupType::kSelect, {bucket(out(1), 1), bucket(out(2), 2)}), 300);
  REQUIRE(t.size() == 3);
  std::vector<uint32_t> ids;
  for (const auto& [id, g] : t.all()) ids.push_back(id);
  CHECK(ids == std::vector<uint32_t>{3, 5, 7});  // dumps come out sorted
  const Group* g7 = t.find(7);
  REQUIRE(g7);
  CHECK(g7->group_id == 7);
  CHECK(g7->type == GroupType::kAll);
  CHECK(g7->created_ms == 100);
  REQUIRE(g7->buckets.size() == 2);
  CHECK(g7->buckets[1].actions == out(2));
  CHECK_FALSE(t.find(8));
  CHECK_FALSE(t.contains(8));

  // Modify replaces type and buckets; the group's age and counters stay.
  t.find(7)->packet_count = 11;
  t.find(7)->byte_count = 1100;
  add(t, mod(7, GroupType::kSelect, {bucket(out(4), 5)}, GroupModCommand::kModify), 900);
  g7 = t.find(7);
  CHECK(g7->type == GroupType::kSelect);
  REQUIRE(g7->buckets.size() == 1);
  CHECK(g7->buckets[0].weight == 5);
  CHECK(g7->created_ms == 100);
  CHECK(g7->packet_count == 11);
  CHECK(g7->byte_count == 1100);

  // Delete reports what went; a missing id is no error and removes nothing.
  std::vector<uint32_t> deleted{99};
  REQUIRE_FALSE(t.apply(del(3), 0, &deleted));
  CHECK(deleted == std::vector<uint32_t>{3});
  REQUIRE_FALSE(t.apply(del(42), 0, &deleted));
  CHECK(deleted.empty());
  CHECK(t.size() == 2);
  // OFPG_ALL deletes everything, in id order.
  REQUIRE_FALSE(t.apply(del(kGroupAll), 0, &deleted));
  CHECK(deleted == std::vector<uint32_t>{5, 7});
  CHECK(t.size() == 0);
  // A deleted id can be added again, as new.
  add(t, mod(7, GroupType::kAll, {bucket(out(1))}), 1000);
  CHECK(t.find(7)->created_ms == 1000);
  CHECK(t.find(7)->packet_count == 0);
}

TEST_CASE("group table: every group_mod_failed code, and the table unchanged after it",
          "[ofproto][group]") {
  GroupTable t;
  t.validation.port_exists = [](uint32_t p) { return p <= 4; };
  add(t, mod(1, GroupType::kAll, {bucket(out(1)), bucket(out(2))}));
  add(t, mod(2, GroupType::kIndirect, {bucket(to_group(1))}));  // 2 -> 1
  add(t, mod(3, GroupType::kIndirect, {bucket(to_group(2))}));  // 3 -> 2 -> 1

  GroupMod bad_command = mod(9, GroupType::kAll, {bucket(out(1))});
  bad_command.command = static_cast<GroupModCommand>(3);
  GroupMod bad_type = mod(9, GroupType::kAll, {bucket(out(1))});
  bad_type.type = static_cast<GroupType>(4);
  std::vector<GroupBucket> too_many(kMaxBucketsPerGroup + 1, bucket(out(1)));
  struct Case {
    const char* what;
    GroupMod mod;
    GroupModFailedCode code;
  };
  const Case cases[] = {
      {"unknown command", bad_command, GroupModFailedCode::kBadCommand},
      {"reserved id", mod(kGroupMax + 1, GroupType::kAll, {bucket(out(1))}),
       GroupModFailedCode::kInvalidGroup},
      {"unknown type", bad_type, GroupModFailedCode::kBadType},
      {"add of an existing id", mod(1, GroupType::kAll, {bucket(out(3))}),
       GroupModFailedCode::kGroupExists},
      {"modify of a missing id",
       mod(9, GroupType::kAll, {bucket(out(3))}, GroupModCommand::kModify),
       GroupModFailedCode::kUnknownGroup},
      {"more buckets than the limit", mod(9, GroupType::kAll, too_many),
       GroupModFailedCode::kOutOfBuckets},
      {"indirect without a bucket", mod(9, GroupType::kIndirect, {}),
       GroupModFailedCode::kInvalidGroup},
      {"indirect with two buckets", mod(9, GroupType::kIndirect, {bucket(out(1)), bucket(out(2))}),
       GroupModFailedCode::kInvalidGroup},
      {"weight in an all group", mod(9, GroupType::kAll, {bucket(out(1), 3)}),
       GroupModFailedCode::kWeightUnsupported},
      {"weight in a fast-failover group", mod(9, GroupType::kFastFailover, {bucket(out(1), 1, 1)}),
       GroupModFailedCode::kWeightUnsupported},
      {"fast-failover bucket watching nothing", mod(9, GroupType::kFastFailover, {bucket(out(1))}),
       GroupModFailedCode::kBadWatch},
      {"watch_group that does not exist",
       mod(9, GroupType::kFastFailover, {bucket(out(1), 0, kPortAny, 77)}),
       GroupModFailedCode::kBadWatch},
      {"bucket forwarding to a missing group", mod(9, GroupType::kAll, {bucket(to_group(77))}),
       GroupModFailedCode::kUnknownGroup},
      {"a group forwarding to itself", mod(9, GroupType::kAll, {bucket(to_group(9))}),
       GroupModFailedCode::kLoop},
      {"modify closing a loop through a chain",
       mod(1, GroupType::kAll, {bucket(to_group(3))}, GroupModCommand::kModify),
       GroupModFailedCode::kLoop},
      {"delete of a group another forwards to", del(1), GroupModFailedCode::kChainedGroup},
      {"delete of the middle of a chain", del(2), GroupModFailedCode::kChainedGroup},
  };
  const auto before = snapshot(t);
  for (const Case& c : cases) {
    INFO(c.what);
    std::vector<uint32_t> deleted{12345};
    MaybeError e = t.apply(c.mod, 0, &deleted);
    REQUIRE(e);
    CHECK(e->type == OfErrorType::kGroupModFailed);
    CHECK(e->code == static_cast<uint16_t>(c.code));
    CHECK_FALSE(e->message.empty());
    CHECK(deleted == std::vector<uint32_t>{12345});  // not written on error
    CHECK(snapshot(t) == before);
  }
  // Bucket actions are validated with the table's context: an unknown
  // port is the action's own error (bad_action), naming the bucket.
  MaybeError e = t.apply(mod(9, GroupType::kAll, {bucket(out(1)), bucket(out(9))}), 0);
  REQUIRE(e);
  CHECK(e->type == OfErrorType::kBadAction);
  CHECK(e->message.find("bucket 2") != std::string::npos);
  CHECK(snapshot(t) == before);
  // The largest allowed bucket count and the largest id are accepted.
  too_many.pop_back();
  add(t, mod(kGroupMax, GroupType::kAll, too_many));
  CHECK(t.find(kGroupMax)->buckets.size() == kMaxBucketsPerGroup);
}

TEST_CASE("group table: chains are followed, and deleted from the head", "[ofproto][group]") {
  GroupTable t;
  add(t, mod(1, GroupType::kAll, {bucket(out(1)), bucket(out(2))}));
  add(t, mod(2, GroupType::kIndirect, {bucket(to_group(1))}));
  add(t, mod(3, GroupType::kSelect, {bucket(to_group(2), 1), bucket(out(3), 1)}));
  // Forwarding to the same group from two buckets is a diamond, not a loop.
  add(t, mod(4, GroupType::kAll, {bucket(to_group(2)), bucket(to_group(1))}));
  // A modify may re-point a chain as long as it does not close it.
  add(t, mod(2, GroupType::kIndirect, {bucket(out(4))}, GroupModCommand::kModify));
  add(t, mod(2, GroupType::kIndirect, {bucket(to_group(1))}, GroupModCommand::kModify));
  // A loop that the new buckets would close deeper down: 1 -> 4 -> 2 -> 1.
  MaybeError e = t.apply(mod(1, GroupType::kAll, {bucket(to_group(4))}, GroupModCommand::kModify), 0);
  REQUIRE(e);
  CHECK(e->code == static_cast<uint16_t>(GroupModFailedCode::kLoop));
  // Tail first is refused; head first works.
  CHECK(t.apply(del(1), 0));
  std::vector<uint32_t> deleted;
  for (uint32_t id : {4u, 3u, 2u, 1u}) {
    INFO("delete " << id);
    REQUIRE_FALSE(t.apply(del(id), 0, &deleted));
    CHECK(deleted == std::vector<uint32_t>{id});
  }
  CHECK(t.size() == 0);
}

TEST_CASE("group table: a select bucket is stable per flow hash and honours the weights",
          "[ofproto][group]") {
  GroupTable t;
  add(t, mod(1, GroupType::kSelect,
             {bucket(out(1), 1, 1), bucket(out(2), 3, 2), bucket(out(3), 0, 3), bucket(out(4), 4, 4)}));
  const Group& g = *t.find(1);
  // Hash ranges in proportion to the weights, in bucket order: 1/8, 3/8, -, 4/8.
  CHECK(t.select_bucket(g, 0) == 0);
  CHECK(t.select_bucket(g, 0x1fffffffu) == 0);
  CHECK(t.select_bucket(g, 0x20000000u) == 1);
  CHECK(t.select_bucket(g, 0x7fffffffu) == 1);
  CHECK(t.select_bucket(g, 0x80000000u) == 3);
  CHECK(t.select_bucket(g, 0xffffffffu) == 3);
  int counts[4] = {};
  std::map<uint32_t, int> choice;
  const int n = 40000;
  for (uint32_t i = 0; i < n; i++) {
    const uint32_t h = i * 2654435761u;  // spread over the 32-bit range
    int b = t.select_bucket(g, h);
    REQUIRE(b >= 0);
    REQUIRE(b < 4);
    counts[b]++;
    choice[h] = b;
  }
  CHECK(counts[2] == 0);  // weight 0: never
  CHECK(std::abs(counts[0] - n / 8) < n / 100);
  CHECK(std::abs(counts[1] - 3 * n / 8) < n / 100);
  CHECK(std::abs(counts[3] - n / 2) < n / 100);
  // Stable: asked again (and after unrelated changes) the answer is the same.
  add(t, mod(2, GroupType::kAll, {bucket(out(2))}));
  for (const auto& [h, b] : choice) REQUIRE(t.select_bucket(g, h) == b);

  // A dead bucket is never chosen; the live ones share the range by their
  // weights (1 and 4 of 5), and when it comes back every flow is where it was.
  std::set<uint32_t> down{2};
  t.port_live = [&](uint32_t p) { return !down.count(p); };
  int live_counts[4] = {};
  for (const auto& [h, b] : choice) {
    int now = t.select_bucket(g, h);
    REQUIRE(now >= 0);
    REQUIRE(now < 4);
    live_counts[now]++;
  }
  CHECK(live_counts[1] == 0);
  CHECK(live_counts[2] == 0);
  CHECK(std::abs(live_counts[0] - n / 5) < n / 100);
  CHECK(std::abs(live_counts[3] - 4 * n / 5) < n / 100);
  down.clear();
  for (const auto& [h, b] : choice) REQUIRE(t.select_bucket(g, h) == b);
  // No live weighted bucket: no choice.
  down = {1, 2, 4};
  CHECK(t.select_bucket(g, 12345) == -1);
  add(t, mod(3, GroupType::kSelect, {bucket(out(1)), bucket(out(2))}));
  CHECK(t.select_bucket(*t.find(3), 12345) == -1);  // all weights 0
}

TEST_CASE("group table: fast-failover picks the first live bucket by watch_port and watch_group",
          "[ofproto][group]") {
  GroupTable t;
  std::set<uint32_t> down;
  add(t, mod(10, GroupType::kFastFailover, {watched(3), watched(4)}));  // live while 3 or 4 is
  add(t, mod(1, GroupType::kFastFailover,
             {watched(1), bucket(out(2), 0, kPortAny, 10), watched(5)}));
  add(t, mod(2, GroupType::kFastFailover,
             {bucket(out(6), 0, 6, 10), watched(7)}));  // both watches needed
  const Group& g1 = *t.find(1);
  const Group& g2 = *t.find(2);
  // No liveness function: every port is live.
  CHECK(t.first_live_bucket(g1) == 0);
  t.port_live = [&](uint32_t p) { return !down.count(p); };
  CHECK(t.first_live_bucket(g1) == 0);
  down = {1};
  CHECK(t.first_live_bucket(g1) == 1);  // group 10 has a live bucket
  down = {1, 3};
  CHECK(t.first_live_bucket(g1) == 1);
  down = {1, 3, 4};
  CHECK(t.first_live_bucket(g1) == 2);  // group 10 is dead: the next bucket
  CHECK_FALSE(t.bucket_live(g1.buckets[1]));
  down = {1, 3, 4, 5};
  CHECK(t.first_live_bucket(g1) == -1);
  down = {3};
  CHECK(t.first_live_bucket(g1) == 0);  // the first bucket is back: it wins again

  down = {};
  CHECK(t.first_live_bucket(g2) == 0);
  down = {6};
  CHECK(t.first_live_bucket(g2) == 1);  // watch_port down, watch_group live
  down = {3, 4};
  CHECK(t.first_live_bucket(g2) == 1);  // watch_port live, watch_group dead
  down = {3, 4, 7};
  CHECK(t.first_live_bucket(g2) == -1);

  // Watching a group several levels down follows the whole chain.
  down = {};
  add(t, mod(11, GroupType::kFastFailover, {bucket(out(8), 0, kPortAny, 10)}));
  add(t, mod(12, GroupType::kFastFailover, {bucket(out(9), 0, kPortAny, 11), watched(5)}));
  CHECK(t.first_live_bucket(*t.find(12)) == 0);
  down = {3, 4};
  CHECK(t.first_live_bucket(*t.find(12)) == 1);
  // A group watching only itself is never live (and the walk ends).
  add(t, mod(13, GroupType::kFastFailover, {bucket(out(1), 0, kPortAny, 13)}));
  CHECK(t.first_live_bucket(*t.find(13)) == -1);
  // Liveness matters to select groups too, through watch_group.
  add(t, mod(14, GroupType::kSelect, {bucket(out(1), 1, kPortAny, 10), bucket(out(2), 1)}));
  for (uint32_t h = 0; h < 64; h++) CHECK(t.select_bucket(*t.find(14), h * 0x04000000u) == 1);
}
