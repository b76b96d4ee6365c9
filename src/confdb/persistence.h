// persistence.h - the store's file: a snapshot followed by an append log.
//
// What: one file per database. Line 1 is a header naming the format and the
//   database; then checksummed records, each "R <bytes> <crc32>\n<json>\n".
//   The first record is a snapshot of every durable column; each following
//   record is one committed transaction's rows ({"Table": {"uuid": row|null}}).
// Design: append() writes the record and fdatasync()s before it returns, so a
//   transaction is acknowledged only once it is on disk. Recovery replays
//   records in order and stops at the first one that is short, fails its CRC
//   or does not parse: that is a write torn by a crash (kill -9, power loss),
//   which was never acknowledged; the file is truncated there so later appends
//   follow good data. compact() writes a fresh snapshot to PATH.tmp, fsyncs
//   it, renames it over PATH and fsyncs the directory: a crash at any moment
//   leaves either the old or the new file, both complete.
// Thread-safety: single-threaded; owned by ConfigStore.
#pragma once

#include "database.h"

#include <string>

namespace dps::confdb {

// Compact when the log holds this many records beyond the snapshot and is
// also twice the snapshot's size: bounds replay time without rewriting the
// file on every small change (ovsdb-server uses similar thresholds).
inline constexpr size_t kCompactMinRecords = 100;
// A record larger than this is corrupt by definition (no config transaction
// comes close); it also bounds the allocation recovery makes for one record.
inline constexpr size_t kMaxRecordBytes = 64u << 20;

class StoreFile {
 public:
  StoreFile() = default;
  ~StoreFile();
  StoreFile(const StoreFile&) = delete;
  StoreFile& operator=(const StoreFile&) = delete;

  // Opens (creating when absent) and replays into `db`. Returns the number of
  // bytes of torn tail dropped (0 for a clean file). Throws OvsdbError
  // ("I/O error" / "syntax error") when the file cannot be used at all.
  size_t open(const std::string& path, Database& db);
  // Appends one record durably. Throws OvsdbError("I/O error").
  void append(const json& record);
  // Rewrites the file as a single snapshot of `db`.
  void compact(const Database& db);
  bool wants_compaction() const;

  size_t records_since_snapshot() const { return records_; }
  uint64_t file_bytes() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  void write_all(int fd, const std::string& data);
  static std::string encode(const json& record);

  std::string path_;
  std::string db_name_;
  int fd_ = -1;
  uint64_t size_ = 0;
  uint64_t snapshot_bytes_ = 0;
  size_t records_ = 0;
};

}  // namespace dps::confdb
