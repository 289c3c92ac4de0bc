// Checking a package file against the hash its registry published, as the bytes pass
// through: npm's `dist.integrity` (Subresource Integrity, "sha512-<base64>") or, for old
// packages without one, `dist.shasum` (hex SHA-1); PyPI's sha256. The gateway feeds each
// chunk it relays and asks for the verdict before the last chunk reaches the client, so a
// file that does not match is never delivered whole and never cached.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pkgtrust/core/status.hpp"

namespace pkgtrust::gateway {

class IntegrityCheck {
 public:
  // The strongest algorithm an SRI string names (sha512, sha384, sha256, then sha1; options
  // after '?' are ignored): the bytes match when they match any of its digests, as SRI says.
  // Without a usable one, `shasum` as hex SHA-1. An error when neither names a hash this
  // check knows.
  static core::Result<IntegrityCheck> FromNpm(std::string_view integrity, std::string_view shasum);
  // PyPI's "sha256" (hex).
  static core::Result<IntegrityCheck> FromSha256Hex(std::string_view hex);

  IntegrityCheck(IntegrityCheck&&) noexcept;
  IntegrityCheck& operator=(IntegrityCheck&&) noexcept;
  ~IntegrityCheck();

  void Update(std::string_view bytes);
  // Whether the bytes fed so far hash to the expected value. Finishes the hash: call once.
  bool Finish();
  // For messages: "sha512-..." (as published) and what the bytes gave, in the same notation.
  const std::string& expected() const { return expected_text_; }
  const std::string& actual() const { return actual_text_; }

 private:
  struct Hasher;
  IntegrityCheck(std::string algorithm, std::vector<std::string> digests, std::string expected_text,
                 bool hex);
  Hasher& Started();
  std::unique_ptr<Hasher> hasher_;  // made by the first Update (or Finish)
  std::string algorithm_;  // "sha512", "sha384", "sha256", "sha1"
  std::vector<std::string> digests_;  // expected, raw bytes (any one matches)
  std::string expected_text_, actual_text_;
  bool hex_ = false;  // notation of actual(): hex (shasum, PyPI) or SRI
};

}  // namespace pkgtrust::gateway
