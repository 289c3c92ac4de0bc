#include "pkgtrust/adoption/origin.hpp"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>

#include "pkgtrust/store/adoption_records.hpp"

namespace pkgtrust::adoption {

std::optional<std::string> NetworkOf(std::string_view address) {
  std::string text(address);
  // "[::1]" as some proxies write it; a zone ("fe80::1%eth0") names an interface, not a network.
  if (text.size() > 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (std::size_t zone = text.find('%'); zone != std::string::npos) text.resize(zone);
  unsigned char bytes[16];
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1)
    return "4:" + std::string(reinterpret_cast<char*>(bytes), 3);
  if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) {
    static constexpr unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(bytes, kMapped, sizeof kMapped) == 0)
      return "4:" + std::string(reinterpret_cast<char*>(bytes + 12), 3);
    return "6:" + std::string(reinterpret_cast<char*>(bytes), 6);
  }
  return std::nullopt;
}

OriginKeys::~OriginKeys() { OPENSSL_cleanse(secret_.data(), secret_.size()); }

std::int64_t OriginKeys::Key(std::string_view address, core::Millis at) {
  constexpr std::size_t kCachedNetworks = 4096;
  std::string network = NetworkOf(address).value_or("?:" + std::string(address));
  std::lock_guard lock(mu_);
  std::int64_t day = store::DayOf(at);
  // Only forward: a request stamped just before midnight recorded after one stamped just
  // after it is keyed with the new day's secret (a secret once gone is never drawn again
  // for its day, which would split that day's origins in two).
  if (day > day_) {
    // A new day: the old secret is overwritten, so its keys can no longer be recomputed.
    if (RAND_bytes(secret_.data(), static_cast<int>(secret_.size())) != 1)
      throw std::runtime_error("origin keys: no random bytes for the day's secret");
    day_ = day;
    keys_.clear();
  }
  if (auto it = keys_.find(network); it != keys_.end()) return it->second;
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(network.data()), network.size(), digest, &length);
  std::uint64_t key = 0;
  for (int i = 0; i < 8; ++i) key = (key << 8) | digest[i];
  if (keys_.size() >= kCachedNetworks) keys_.clear();
  keys_.emplace(std::move(network), static_cast<std::int64_t>(key));
  return static_cast<std::int64_t>(key);
}

}  // namespace pkgtrust::adoption
