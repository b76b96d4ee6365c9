// Coverage goal: committed state survives reopen; a torn tail (a write cut
// short by a crash) is dropped and truncated; compaction keeps the state;
// SIGKILL during a stream of transactions loses no acknowledged one.
#include <catch2/catch.hpp>

#include "confdb_test_util.h"

#include <fcntl.h>
#include <fstream>

using namespace dps::confdb;
using namespace dps::confdb::test;

namespace {

json set_cfg(int64_t v) {
  return json::array({{{"op", "update"}, {"table", "Open_vSwitch"}, {"where", json::array()}, {"row", {{"next_cfg", v}}}}});
}

json add_manager(const std::string& target) {
  return json::array({{{"op", "insert"}, {"table", "Manager"}, {"uuid-name", "m"}, {"row", {{"target", target}}}},
                      {{"op", "mutate"}, {"table", "Open_vSwitch"}, {"where", json::array()},
                       {"mutations", json::array({json::array({"manager_options", "insert", json::array({"named-uuid", "m"})})})}}});
}

}  // namespace

TEST_CASE("committed state survives reopen and ephemeral columns are not stored", "[confdb]") {
  TempDir dir;
  json snap;
  {
    auto s = ConfigStore::open(vswitch_schema(), dir / "conf.db");
    s->ensure_root_row();
    s->transact_or_throw(set_cfg(42));
    s->transact_or_throw(add_manager("ptcp:6640"));
    s->transact_or_throw(json::array({{{"op", "update"}, {"table", "Open_vSwitch"}, {"where", json::array()},
                                       {"row", {{"statistics", json::parse(R"(["map",[["cpu","2"]]])")}}}}}));
    snap = s->db().snapshot_json();
  }
  auto s = ConfigStore::open(vswitch_schema(), dir / "conf.db");
  CHECK(s->torn_bytes_recovered() == 0);
  CHECK(s->next_cfg() == 42);
  CHECK(s->db().snapshot_json() == snap);
  auto stats = s->get("Open_vSwitch", *s->root_row(), "statistics");
  CHECK(*stats == json::parse(R"(["map",[]])"));
}

TEST_CASE("a torn tail is ignored and truncated and later appends are readable", "[confdb]") {
  TempDir dir;
  std::string path = dir / "conf.db";
  {
    auto s = ConfigStore::open(vswitch_schema(), path);
    s->ensure_root_row();
    s->transact_or_throw(set_cfg(1));
    s->transact_or_throw(set_cfg(2));
  }
  auto full = std::filesystem::file_size(path);
  for (size_t cut : {1, 5, 20}) {
    std::filesystem::copy_file(path, dir / "torn.db", std::filesystem::copy_options::overwrite_existing);
    {
      auto s = ConfigStore::open(vswitch_schema(), dir / "torn.db");
      s->transact_or_throw(set_cfg(3));
    }
    std::filesystem::resize_file(dir / "torn.db", std::filesystem::file_size(dir / "torn.db") - cut);
    auto s = ConfigStore::open(vswitch_schema(), dir / "torn.db");
    CHECK(s->torn_bytes_recovered() > 0);
    CHECK(s->next_cfg() == 2);  // the torn record (cfg 3) was never acknowledged
    s->transact_or_throw(set_cfg(4));
    auto again = ConfigStore::open(vswitch_schema(), dir / "torn.db");
    CHECK(again->torn_bytes_recovered() == 0);
    CHECK(again->next_cfg() == 4);
  }
  // Garbage appended (a partial header) is dropped too.
  {
    std::ofstream f(path, std::ios::app);
    f << "R 99";
  }
  auto s = ConfigStore::open(vswitch_schema(), path);
  CHECK(s->torn_bytes_recovered() == 4);
  CHECK(std::filesystem::file_size(path) == full);
  // A corrupted record body fails its CRC.
  {
    int fd = ::open(path.c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    REQUIRE(::pwrite(fd, "X", 1, static_cast<off_t>(full - 3)) == 1);
    ::close(fd);
  }
  auto c = ConfigStore::open(vswitch_schema(), path);
  CHECK(c->torn_bytes_recovered() > 0);
  CHECK(c->next_cfg() == 1);
}

TEST_CASE("compaction rewrites the file as one snapshot with the same state", "[confdb]") {
  TempDir dir;
  std::string path = dir / "conf.db";
  json snap;
  uintmax_t peak = 0;
  {
    auto s = ConfigStore::open(vswitch_schema(), path);
    s->ensure_root_row();
    for (int i = 0; i < 3 * static_cast<int>(kCompactMinRecords); ++i) {
      s->transact_or_throw(set_cfg(i));
      peak = std::max(peak, std::filesystem::file_size(path));
    }
    CHECK(s->file()->records_since_snapshot() < kCompactMinRecords);
    snap = s->db().snapshot_json();
  }
  CHECK(std::filesystem::file_size(path) < peak);
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  auto s = ConfigStore::open(vswitch_schema(), path);
  CHECK(s->db().snapshot_json() == snap);
  CHECK(s->next_cfg() == 3 * static_cast<int>(kCompactMinRecords) - 1);
}

TEST_CASE("SIGKILL during transactions loses no acknowledged transaction", "[confdb]") {
  TempDir dir;
  std::string path = dir / "conf.db";
  {
    auto s = ConfigStore::open(vswitch_schema(), path);
    s->ensure_root_row();
  }
  int64_t acked_total = 0;
  for (int round = 0; round < 5; ++round) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      auto s = ConfigStore::open(vswitch_schema(), path);
      for (int64_t v = s->next_cfg() + 1;; ++v) {
        s->transact_or_throw(set_cfg(v));
        if (write(fds[1], &v, sizeof v) != sizeof v) _exit(1);  // acknowledged
      }
    }
    close(fds[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(30 + 17 * round));
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    int64_t v, last = -1;
    while (read(fds[0], &v, sizeof v) == sizeof v) last = v;
    close(fds[0]);
    auto s = ConfigStore::open(vswitch_schema(), path);
    INFO("round " << round << " last acknowledged " << last);
    CHECK(s->next_cfg() >= last);
    CHECK(s->next_cfg() <= last + 1);  // at most the one in flight
    acked_total += last > 0;
  }
  CHECK(acked_total > 0);
}
