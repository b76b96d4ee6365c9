#include "persistence.h"

#include <boost/crc.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

namespace dps::confdb {

namespace {

constexpr const char* kMagic = "DPSDB1";

[[noreturn]] void io_fail(const std::string& what, const std::string& path) {
  fail("I/O error", what + " " + path + ": " + std::strerror(errno));
}

uint32_t crc32(const std::string& s) {
  boost::crc_32_type crc;
  crc.process_bytes(s.data(), s.size());
  return crc.checksum();
}

void fsync_dir(const std::string& path) {
  auto dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

StoreFile::~StoreFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::string StoreFile::encode(const json& record) {
  std::string body = record.dump();
  char head[64];
  std::snprintf(head, sizeof head, "R %zu %08x\n", body.size(), crc32(body));
  return head + body + "\n";
}

void StoreFile::write_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      io_fail("cannot write", path_);
    }
    off += static_cast<size_t>(n);
  }
}

size_t StoreFile::open(const std::string& path, Database& db) {
  path_ = path;
  db_name_ = db.schema().name;
  if (auto dir = std::filesystem::path(path).parent_path(); !dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
  }
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd_ < 0) io_fail("cannot open", path);
  struct stat st;
  if (fstat(fd_, &st) != 0) io_fail("cannot stat", path);
  std::string data(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < data.size()) {
    ssize_t n = ::pread(fd_, data.data() + got, data.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) io_fail("cannot read", path);
    got += static_cast<size_t>(n);
  }
  std::string header = std::string(kMagic) + " " + db_name_ + "\n";
  if (data.empty()) {
    // A new file: header plus an empty snapshot, durably.
    std::string init = header + encode(db.snapshot_json());
    write_all(fd_, init);
    if (::fdatasync(fd_) != 0) io_fail("cannot sync", path);
    fsync_dir(path);
    size_ = snapshot_bytes_ = init.size();
    records_ = 0;
    return 0;
  }
  if (data.compare(0, header.size(), header) != 0)
    fail("syntax error", path + " is not a " + db_name_ + " store file (bad header)");
  size_t pos = header.size();
  size_t good = pos;
  size_t n_records = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos || nl - pos > 40) break;
    size_t len = 0;
    unsigned crc = 0;
    std::string line = data.substr(pos, nl - pos);
    if (std::sscanf(line.c_str(), "R %zu %x", &len, &crc) != 2 || len > kMaxRecordBytes) break;
    size_t body = nl + 1;
    if (body + len + 1 > data.size() || data[body + len] != '\n') break;
    std::string rec = data.substr(body, len);
    if (crc32(rec) != crc) break;
    json j = json::parse(rec, nullptr, false);
    if (j.is_discarded()) break;
    if (n_records == 0) {
      db.load_snapshot_json(j);
      snapshot_bytes_ = body + len + 1;
    } else {
      db.apply_record_json(j);
    }
    ++n_records;
    pos = good = body + len + 1;
  }
  if (n_records == 0) fail("syntax error", path + " has no readable snapshot record");
  size_t torn = data.size() - good;
  if (torn) {
    if (::ftruncate(fd_, static_cast<off_t>(good)) != 0) io_fail("cannot truncate", path);
    if (::fdatasync(fd_) != 0) io_fail("cannot sync", path);
  }
  if (::lseek(fd_, static_cast<off_t>(good), SEEK_SET) < 0) io_fail("cannot seek", path);
  size_ = good;
  records_ = n_records - 1;
  return torn;
}

void StoreFile::append(const json& record) {
  std::string rec = encode(record);
  write_all(fd_, rec);
  if (::fdatasync(fd_) != 0) io_fail("cannot sync", path_);
  size_ += rec.size();
  ++records_;
}

bool StoreFile::wants_compaction() const {
  return records_ >= kCompactMinRecords && size_ >= 2 * snapshot_bytes_;
}

void StoreFile::compact(const Database& db) {
  std::string tmp = path_ + ".tmp";
  std::string data = std::string(kMagic) + " " + db_name_ + "\n" + encode(db.snapshot_json());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) io_fail("cannot create", tmp);
  try {
    write_all(fd, data);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    io_fail("cannot sync", tmp);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path_.c_str()) != 0) io_fail("cannot rename over", path_);
  fsync_dir(path_);
  int nfd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
  if (nfd < 0) io_fail("cannot reopen", path_);
  ::close(fd_);
  fd_ = nfd;
  if (::lseek(fd_, 0, SEEK_END) < 0) io_fail("cannot seek", path_);
  size_ = snapshot_bytes_ = data.size();
  records_ = 0;
}

}  // namespace dps::confdb
