#include "pkgtrust/gateway/integrity.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <optional>
#include <vector>

namespace pkgtrust::gateway {

struct IntegrityCheck::Hasher {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Hasher() { EVP_MD_CTX_free(ctx); }
};

namespace {

// Fetched once: OpenSSL 3 looks an algorithm up under a global lock each time EVP_sha512()
// and friends are used to start a hash ("implicit fetch"), a cost on every file answered.
const EVP_MD* Digest(std::string_view algorithm) {
  static const EVP_MD* const sha512 = EVP_MD_fetch(nullptr, "SHA512", nullptr);
  static const EVP_MD* const sha384 = EVP_MD_fetch(nullptr, "SHA384", nullptr);
  static const EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  static const EVP_MD* const sha1 = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  if (algorithm == "sha512") return sha512;
  if (algorithm == "sha384") return sha384;
  if (algorithm == "sha256") return sha256;
  if (algorithm == "sha1") return sha1;
  return nullptr;
}

int Strength(std::string_view algorithm) {
  if (algorithm == "sha512") return 4;
  if (algorithm == "sha384") return 3;
  if (algorithm == "sha256") return 2;
  if (algorithm == "sha1") return 1;
  return 0;
}

std::optional<std::string> DecodeBase64(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0) return std::nullopt;
  std::vector<unsigned char> out(text.size() / 4 * 3);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding's bytes as zeros.
  if (text.ends_with("=="))
    n -= 2;
  else if (text.ends_with('='))
    n -= 1;
  return std::string(reinterpret_cast<const char*>(out.data()), static_cast<std::size_t>(n));
}

std::string EncodeBase64(std::string_view bytes) {
  std::vector<unsigned char> out((bytes.size() + 2) / 3 * 4 + 1);
  int n = EVP_EncodeBlock(out.data(), reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  return std::string(reinterpret_cast<const char*>(out.data()), static_cast<std::size_t>(n));
}

std::optional<std::string> DecodeHex(std::string_view hex) {
  if (hex.empty() || hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int value = 0;
    for (char c : hex.substr(i, 2)) {
      value *= 16;
      if (c >= '0' && c <= '9')
        value += c - '0';
      else if (c >= 'a' && c <= 'f')
        value += c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        value += c - 'A' + 10;
      else
        return std::nullopt;
    }
    out += static_cast<char>(value);
  }
  return out;
}

std::string EncodeHex(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes) out += fmt::format("{:02x}", c);
  return out;
}

}  // namespace

IntegrityCheck::IntegrityCheck(std::string algorithm, std::vector<std::string> digests,
                               std::string expected_text, bool hex)
    : algorithm_(std::move(algorithm)),
      digests_(std::move(digests)),
      expected_text_(std::move(expected_text)),
      hex_(hex) {}

// The hash starts with the first bytes: a check made only for its expected() (a cache
// lookup) costs no hashing context.
IntegrityCheck::Hasher& IntegrityCheck::Started() {
  if (!hasher_) {
    hasher_ = std::make_unique<Hasher>();
    EVP_DigestInit_ex(hasher_->ctx, Digest(algorithm_), nullptr);
  }
  return *hasher_;
}

IntegrityCheck::IntegrityCheck(IntegrityCheck&&) noexcept = default;
IntegrityCheck& IntegrityCheck::operator=(IntegrityCheck&&) noexcept = default;
IntegrityCheck::~IntegrityCheck() = default;

core::Result<IntegrityCheck> IntegrityCheck::FromNpm(std::string_view integrity, std::string_view shasum) {
  std::string best_algorithm, best_text;
  std::vector<std::string> best_digests;
  while (!integrity.empty()) {
    std::size_t space = integrity.find_first_of(" \t\n");
    std::string_view item = integrity.substr(0, space);
    integrity = space == std::string_view::npos ? std::string_view() : integrity.substr(space + 1);
    std::size_t dash = item.find('-');
    if (dash == std::string_view::npos) continue;
    std::string_view algorithm = item.substr(0, dash);
    std::string_view value = item.substr(dash + 1);
    value = value.substr(0, value.find('?'));  // SRI options
    auto digest = DecodeBase64(value);
    if (!digest || Strength(algorithm) == 0 || Strength(algorithm) < Strength(best_algorithm) ||
        digest->size() != static_cast<std::size_t>(EVP_MD_size(Digest(algorithm))))
      continue;
    if (Strength(algorithm) > Strength(best_algorithm)) {
      best_algorithm = algorithm;
      best_digests.clear();
      best_text.clear();
    }
    best_digests.push_back(std::move(*digest));
    best_text += fmt::format("{}{}-{}", best_text.empty() ? "" : " ", algorithm, value);
  }
  if (!best_algorithm.empty())
    return IntegrityCheck(best_algorithm, std::move(best_digests), best_text, false);
  if (auto digest = DecodeHex(shasum); digest && digest->size() == 20)
    return IntegrityCheck("sha1", {*digest}, std::string(shasum), true);
  return core::Status::InvalidArgument("the registry published no usable integrity hash or shasum");
}

core::Result<IntegrityCheck> IntegrityCheck::FromSha256Hex(std::string_view hex) {
  auto digest = DecodeHex(hex);
  if (!digest || digest->size() != 32)
    return core::Status::InvalidArgument("the index published no usable sha256 for the file");
  return IntegrityCheck("sha256", {*digest}, std::string(hex), true);
}

void IntegrityCheck::Update(std::string_view bytes) {
  EVP_DigestUpdate(Started().ctx, bytes.data(), bytes.size());
}

bool IntegrityCheck::Finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_DigestFinal_ex(Started().ctx, out, &size);
  std::string actual(reinterpret_cast<const char*>(out), size);
  actual_text_ = hex_ ? EncodeHex(actual) : fmt::format("{}-{}", algorithm_, EncodeBase64(actual));
  return std::find(digests_.begin(), digests_.end(), actual) != digests_.end();
}

}  // namespace pkgtrust::gateway
