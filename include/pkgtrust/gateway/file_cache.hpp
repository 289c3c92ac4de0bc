// The gateway's package-file cache: a bounded folder of files named by their published
// hash (content-addressed: one file however many names or URLs lead to it). A file enters
// only through a Writer, which writes a temporary file and renames it into place after the
// bytes matched their hash, so a partial or mismatched download is never served. Past the
// size limit, the least recently used files are removed. A file already opened for reading
// stays readable when it is evicted (POSIX keeps the inode until it is closed).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pkgtrust/core/status.hpp"

namespace pkgtrust::gateway {

struct FileCacheConfig {
  std::string folder;                     // created when missing
  std::uint64_t max_bytes = 10ull << 30;  // 0: nothing is kept (every file is fetched again)
};

struct FileCacheStats {
  std::int64_t files = 0, bytes = 0, hits = 0, misses = 0, stored = 0, evicted = 0;
};

// Safe for concurrent use.
class FileCache {
 public:
  // Opens (or creates) the folder, counts what is in it (oldest modification first in the
  // eviction order), removes temporary files a crash left, and evicts down to the limit.
  static core::Result<std::unique_ptr<FileCache>> OpenFolder(FileCacheConfig config);

  // The key for a published hash, as the registry spelled it ("sha512-<base64>", a hex
  // digest): a name that is safe on disk.
  static std::string KeyFor(std::string_view published_hash);

  // An open file for `key`, positioned at its start, and its size; nullopt when absent.
  // Counts a hit or a miss, and marks the file used.
  struct Opened {
    int fd = -1;  // the caller closes it
    std::uint64_t size = 0;
  };
  std::optional<Opened> Open(const std::string& key);

  // Writes one file; not for concurrent use. Destroyed without Commit, it removes its
  // temporary file.
  class Writer {
   public:
    ~Writer();
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    core::Status Append(std::string_view bytes);
    std::uint64_t written() const { return written_; }
    // A descriptor that reads the temporary file (and, after Commit, the cached one).
    int read_fd() const { return read_fd_; }
    // Renames the file into the cache (call only once its hash matched) and evicts past
    // the limit.
    core::Status Commit();

   private:
    friend class FileCache;
    Writer(FileCache& cache, std::string key, std::string temp_path, int write_fd, int read_fd);
    FileCache& cache_;
    std::string key_, temp_path_;
    int write_fd_ = -1, read_fd_ = -1;
    std::uint64_t written_ = 0;
    bool committed_ = false;
  };
  core::Result<std::unique_ptr<Writer>> Begin(const std::string& key);

  FileCacheStats Stats() const;
  ~FileCache();

 private:
  explicit FileCache(FileCacheConfig config);
  std::string PathOf(const std::string& key) const;
  void AddLocked(const std::string& key, std::uint64_t size);
  void EvictLocked();

  FileCacheConfig config_;
  mutable std::mutex mu_;
  std::list<std::string> order_;  // most recently used first
  struct Entry {
    std::uint64_t size = 0;
    std::list<std::string>::iterator position;
  };
  std::unordered_map<std::string, Entry> entries_;
  std::uint64_t bytes_ = 0;
  std::uint64_t next_temp_ = 0;
  FileCacheStats stats_;
};

}  // namespace pkgtrust::gateway
