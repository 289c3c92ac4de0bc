#include "pkgtrust/gateway/file_cache.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "support/test_support.hpp"

using namespace pkgtrust;

namespace {

std::string Store(gateway::FileCache& cache, const std::string& key, const std::string& bytes) {
  auto writer = cache.Begin(key);
  REQUIRE(writer.ok());
  REQUIRE((*writer)->Append(bytes).ok());
  REQUIRE((*writer)->Commit().ok());
  return key;
}

std::string ReadAll(int fd, std::uint64_t size) {
  std::string bytes(size, '\0');
  REQUIRE(::pread(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(size));
  ::close(fd);
  return bytes;
}

}  // namespace

TEST_CASE("file cache: content-addressed, bounded, least recently used out", "[gateway]") {
  testing::TempDir dir;
  auto opened = gateway::FileCache::OpenFolder({dir.File("files"), 300});
  REQUIRE(opened.ok());
  gateway::FileCache& cache = **opened;
  std::string a = gateway::FileCache::KeyFor("sha512-aaaa"), b = gateway::FileCache::KeyFor("sha512-bbbb"),
              c = gateway::FileCache::KeyFor("sha512-cccc");
  CHECK(a.size() == 64);
  CHECK(a != b);
  Store(cache, a, std::string(100, 'a'));
  Store(cache, b, std::string(100, 'b'));
  Store(cache, c, std::string(100, 'c'));  // 300 bytes: exactly the limit, nothing evicted
  CHECK(cache.Stats().files == 3);
  CHECK(cache.Stats().evicted == 0);

  auto hit = cache.Open(a);  // `a` is now the most recently used; `b` the least
  REQUIRE(hit.has_value());
  CHECK(ReadAll(hit->fd, hit->size) == std::string(100, 'a'));
  Store(cache, gateway::FileCache::KeyFor("sha512-dddd"), std::string(1, 'd'));  // 301 bytes: one out
  CHECK(cache.Stats().evicted == 1);
  CHECK_FALSE(cache.Open(b).has_value());
  CHECK(cache.Open(a).has_value());
  CHECK(cache.Open(c).has_value());
  CHECK(cache.Stats().bytes == 201);
}

TEST_CASE("file cache: a download never committed is never served, and is removed", "[gateway]") {
  testing::TempDir dir;
  auto opened = gateway::FileCache::OpenFolder({dir.File("files"), 1 << 20});
  REQUIRE(opened.ok());
  std::string key = gateway::FileCache::KeyFor("sha512-partial");
  {
    auto writer = (*opened)->Begin(key);
    REQUIRE(writer.ok());
    REQUIRE((*writer)->Append("half of it").ok());
    CHECK_FALSE((*opened)->Open(key).has_value());  // written, not yet committed
  }  // dropped without Commit (the hash did not match)
  CHECK_FALSE((*opened)->Open(key).has_value());
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.File("files")))
    files += entry.is_regular_file() ? 1 : 0;
  CHECK(files == 0);

  // Larger than the whole cache: served from its temporary file, never kept.
  auto small = gateway::FileCache::OpenFolder({dir.File("small"), 4});
  REQUIRE(small.ok());
  auto writer = (*small)->Begin(key);
  REQUIRE(writer.ok());
  REQUIRE((*writer)->Append("12345").ok());
  REQUIRE((*writer)->Commit().ok());
  CHECK((*small)->Stats().files == 0);
}

TEST_CASE("file cache: a restart finds the files kept and drops what a crash left half-written", "[gateway]") {
  testing::TempDir dir;
  std::string key = gateway::FileCache::KeyFor("sha512-kept");
  {
    auto first = gateway::FileCache::OpenFolder({dir.File("files"), 1 << 20});
    REQUIRE(first.ok());
    Store(**first, key, "kept bytes");
  }
  std::filesystem::create_directories(dir.File("files/ab"));
  testing::WriteText(dir.File("files/ab/" + std::string(64, 'a') + ".123.0.partial"), "interrupted");
  auto second = gateway::FileCache::OpenFolder({dir.File("files"), 1 << 20});
  REQUIRE(second.ok());
  auto hit = (*second)->Open(key);
  REQUIRE(hit.has_value());
  CHECK(ReadAll(hit->fd, hit->size) == "kept bytes");
  CHECK((*second)->Stats().files == 1);
  CHECK_FALSE(std::filesystem::exists(dir.File("files/ab/" + std::string(64, 'a') + ".123.0.partial")));
  // Reopened with a smaller limit, it evicts down to it at once.
  auto smaller = gateway::FileCache::OpenFolder({dir.File("files"), 5});
  REQUIRE(smaller.ok());
  CHECK((*smaller)->Stats().files == 0);
}
