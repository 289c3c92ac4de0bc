#include "pkgtrust/gateway/file_cache.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "pkgtrust/core/log.hpp"

namespace pkgtrust::gateway {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kTempSuffix = ".partial";

std::string Sha256Hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // Fetched once (OpenSSL 3's implicit fetch takes a global lock each time).
  static const EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  EVP_Digest(text.data(), text.size(), digest, &length, sha256, nullptr);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

}  // namespace

std::string FileCache::KeyFor(std::string_view published_hash) { return Sha256Hex(published_hash); }

FileCache::FileCache(FileCacheConfig config) : config_(std::move(config)) {}

FileCache::~FileCache() = default;

core::Result<std::unique_ptr<FileCache>> FileCache::OpenFolder(FileCacheConfig config) {
  std::error_code ec;
  fs::create_directories(config.folder, ec);
  if (ec)
    return core::Status::Unavailable(
        fmt::format("gateway.cache.folder {}: cannot create it: {}", config.folder, ec.message()));
  std::unique_ptr<FileCache> cache(new FileCache(std::move(config)));
  struct Found {
    std::string key;
    std::uint64_t size;
    fs::file_time_type modified;
  };
  std::vector<Found> found;
  for (fs::recursive_directory_iterator it(cache->config_.folder, ec), end; !ec && it != end;
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string name = it->path().filename().string();
    if (name.ends_with(kTempSuffix)) {  // a download a crash interrupted
      fs::remove(it->path(), ec);
      continue;
    }
    if (name.size() != 64) continue;  // not one of ours
    found.push_back({name, static_cast<std::uint64_t>(it->file_size(ec)), it->last_write_time(ec)});
  }
  if (ec)
    return core::Status::Unavailable(
        fmt::format("gateway.cache.folder {}: cannot read it: {}", cache->config_.folder, ec.message()));
  std::sort(found.begin(), found.end(),
            [](const Found& a, const Found& b) { return a.modified < b.modified; });
  std::lock_guard lock(cache->mu_);
  for (const Found& f : found) cache->AddLocked(f.key, f.size);  // the newest ends up first
  cache->EvictLocked();
  return cache;
}

std::string FileCache::PathOf(const std::string& key) const {
  return config_.folder + "/" + key.substr(0, 2) + "/" + key;
}

void FileCache::AddLocked(const std::string& key, std::uint64_t size) {
  if (auto it = entries_.find(key); it != entries_.end()) {
    bytes_ -= it->second.size;
    order_.erase(it->second.position);
    entries_.erase(it);
  }
  order_.push_front(key);
  entries_[key] = {size, order_.begin()};
  bytes_ += size;
}

void FileCache::EvictLocked() {
  while (bytes_ > config_.max_bytes && !order_.empty()) {
    std::string key = order_.back();
    order_.pop_back();
    auto it = entries_.find(key);
    bytes_ -= it->second.size;
    entries_.erase(it);
    std::error_code ec;
    fs::remove(PathOf(key), ec);
    stats_.evicted++;
  }
}

std::optional<FileCache::Opened> FileCache::Open(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    stats_.misses++;
    return std::nullopt;
  }
  int fd = ::open(PathOf(key).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {  // removed behind our back: forget it
    bytes_ -= it->second.size;
    order_.erase(it->second.position);
    entries_.erase(it);
    stats_.misses++;
    return std::nullopt;
  }
  order_.splice(order_.begin(), order_, it->second.position);
  stats_.hits++;
  return Opened{fd, it->second.size};
}

core::Result<std::unique_ptr<FileCache::Writer>> FileCache::Begin(const std::string& key) {
  std::string folder = config_.folder + "/" + key.substr(0, 2);
  std::error_code ec;
  fs::create_directories(folder, ec);
  std::uint64_t n;
  {
    std::lock_guard lock(mu_);
    n = next_temp_++;
  }
  std::string temp = fmt::format("{}/{}.{}.{}{}", folder, key, ::getpid(), n, kTempSuffix);
  int write_fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (write_fd < 0)
    return core::Status::Unavailable(
        fmt::format("gateway cache: cannot create {}: {}", temp, std::strerror(errno)));
  int read_fd = ::open(temp.c_str(), O_RDONLY | O_CLOEXEC);
  if (read_fd < 0) {
    ::close(write_fd);
    ::unlink(temp.c_str());
    return core::Status::Unavailable(
        fmt::format("gateway cache: cannot read {}: {}", temp, std::strerror(errno)));
  }
  return std::unique_ptr<Writer>(new Writer(*this, key, std::move(temp), write_fd, read_fd));
}

FileCache::Writer::Writer(FileCache& cache, std::string key, std::string temp_path, int write_fd, int read_fd)
    : cache_(cache),
      key_(std::move(key)),
      temp_path_(std::move(temp_path)),
      write_fd_(write_fd),
      read_fd_(read_fd) {}

FileCache::Writer::~Writer() {
  if (write_fd_ >= 0) ::close(write_fd_);
  if (read_fd_ >= 0) ::close(read_fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

core::Status FileCache::Writer::Append(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(write_fd_, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      return core::Status::Unavailable(
          fmt::format("gateway cache: cannot write {}: {}", temp_path_, std::strerror(errno)));
    bytes.remove_prefix(static_cast<std::size_t>(n));
    written_ += static_cast<std::uint64_t>(n);
  }
  return core::Status::Ok();
}

core::Status FileCache::Writer::Commit() {
  if (committed_) return core::Status::Ok();
  if (written_ > cache_.config_.max_bytes) return core::Status::Ok();  // larger than the cache: not kept
  ::close(write_fd_);
  write_fd_ = -1;
  if (::rename(temp_path_.c_str(), cache_.PathOf(key_).c_str()) != 0)
    return core::Status::Unavailable(
        fmt::format("gateway cache: cannot rename {}: {}", temp_path_, std::strerror(errno)));
  committed_ = true;
  std::lock_guard lock(cache_.mu_);
  cache_.AddLocked(key_, written_);
  cache_.stats_.stored++;
  cache_.EvictLocked();
  return core::Status::Ok();
}

FileCacheStats FileCache::Stats() const {
  std::lock_guard lock(mu_);
  FileCacheStats stats = stats_;
  stats.files = static_cast<std::int64_t>(entries_.size());
  stats.bytes = static_cast<std::int64_t>(bytes_);
  return stats;
}

}  // namespace pkgtrust::gateway
