// Origin keys: what the request log keeps instead of a client's address. The address is cut
// to its network (/24 for IPv4, /48 for IPv6; an IPv4-mapped IPv6 address counts as IPv4)
// and hashed with HMAC-SHA256 under a secret of the current UTC day. The secret is drawn
// at random when its day's first request comes, lives only in this process's memory, and is
// wiped when the day ends: keys of one day can be counted as unique origins, but nothing
// links a key to another day's keys or back to an address (docs/privacy.md).
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pkgtrust/core/clock.hpp"

namespace pkgtrust::adoption {

// The network of an address as bytes ("4:" + 3 bytes, "6:" + 6 bytes), or nullopt when
// `address` is not an IP address.
std::optional<std::string> NetworkOf(std::string_view address);

// Safe for concurrent use.
class OriginKeys {
 public:
  OriginKeys() = default;
  ~OriginKeys();
  OriginKeys(const OriginKeys&) = delete;
  OriginKeys& operator=(const OriginKeys&) = delete;

  // The key of `address` at time `at` (its day's secret; a time before the current day gets
  // the current day's): the first 8 bytes of the HMAC as a signed integer. An address that is not an IP
  // address gets the key of its text (so a malformed header still counts as one origin, never as the address
  // itself on disk).
  std::int64_t Key(std::string_view address, core::Millis at);

 private:
  std::mutex mu_;
  std::int64_t day_ = -1;
  std::array<unsigned char, 32> secret_{};
  // The day's keys by network (a gateway sees the same few networks all day): memory only,
  // dropped with the secret at the day's end, at most kCachedNetworks of them.
  std::unordered_map<std::string, std::int64_t> keys_;
};

}  // namespace pkgtrust::adoption
