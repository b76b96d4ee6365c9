// confdb_test_util.h - shared helpers for the confdb tests: the schema path,
// temporary directories, a blocking JSON-RPC client on a unix socket, and
// running the dpsdb_testserver / external tools as child processes.
#pragma once

#include <utility>

#include "config_store.h"
#include "jsonrpc_framer.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace dps::confdb::test {

inline std::string schema_path() { return DPS_SCHEMA_PATH; }

inline std::shared_ptr<const DatabaseSchema> vswitch_schema() {
  static auto s = std::make_shared<const DatabaseSchema>(DatabaseSchema::load_file(schema_path()));
  return s;
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/dps-confdb-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

// Blocking client over a unix socket: send a message, read whole messages.
class RawClient {
 public:
  explicit RawClient(const std::string& path) : sock_(io_), framer_(1u << 26) {
    sock_.connect(boost::asio::local::stream_protocol::endpoint(path));
  }
  void send_text(const std::string& s) { boost::asio::write(sock_, boost::asio::buffer(s)); }
  void send(const json& j) { send_text(j.dump()); }
  // Next message, or a discarded json when the server closed the connection.
  json recv() {
    for (;;) {
      if (auto m = framer_.next()) return json::parse(*m);
      std::array<char, 65536> buf;
      boost::system::error_code ec;
      size_t n = sock_.read_some(boost::asio::buffer(buf), ec);
      if (ec) return json(json::value_t::discarded);
      framer_.feed(buf.data(), n);
    }
  }
  // Sends a request and returns its reply, collecting notifications on the way.
  json call(const std::string& method, json params, std::vector<json>* notes = nullptr) {
    json id = ++next_id_;
    send({{"method", method}, {"params", std::move(params)}, {"id", id}});
    for (;;) {
      json m = recv();
      if (m.is_discarded()) return m;
      if (m.contains("id") && m["id"] == id && !m.contains("method")) return m;
      if (notes) notes->push_back(m);
    }
  }

 private:
  boost::asio::io_context io_;
  boost::asio::local::stream_protocol::socket sock_;
  JsonFramer framer_;
  int next_id_ = 0;
};

// Runs a shell command, returns (exit status, stdout).
inline std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* f = popen((cmd + " 2>/tmp/dps-confdb-last-stderr").c_str(), "r");
  if (!f) return {-1, ""};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  int st = pclose(f);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

inline std::string last_stderr() {
  FILE* f = fopen("/tmp/dps-confdb-last-stderr", "r");
  if (!f) return "";
  std::string s;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  fclose(f);
  return s;
}

// dpsdb_testserver as a child process, stopped (SIGTERM) on destruction.
class TestServer {
 public:
  TestServer(const std::string& dir, const std::string& extra = "") : sock(dir + "/db.sock"), db(dir + "/conf.db") {
    start(extra);
  }
  ~TestServer() { stop(); }
  void start(const std::string& extra = "") {
    pid_ = fork();
    if (pid_ == 0) {
      std::string cmd = std::string(DPS_TESTSERVER_PATH) + " --schema " + schema_path() + " --db " + db +
                        " --remote punix:" + sock + " " + extra + " >/dev/null 2>&1";
      execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), nullptr);
      _exit(127);
    }
    for (int i = 0; i < 500; ++i) {
      if (std::filesystem::exists(sock)) {
        try {
          RawClient c(sock);
          return;
        } catch (...) {
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  void stop(int sig = SIGTERM) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    int st;
    waitpid(pid_, &st, 0);
    pid_ = -1;
  }
  std::string sock, db;

 private:
  pid_t pid_ = -1;
};

}  // namespace dps::confdb::test
