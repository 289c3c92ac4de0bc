// Checking relayed bytes against the published hash: npm's SRI (the strongest hash named)
// and shasum, PyPI's sha256; chunked input equals whole input; one changed byte fails.
// Expected values computed with Python's hashlib for the content below.
#include "pkgtrust/gateway/integrity.hpp"

#include <catch2/catch.hpp>

using namespace pkgtrust;

namespace {

std::string Content() {
  std::string s;
  for (int i = 0; i < 1000; ++i) s += "hello gateway\n";
  return s;
}

const char* kSha512 =
    "sha512-RpaghtwhJOmWaGMRvDwZP7WmNQSp2ISP/zaz4mgrHpi4f4+DOuDvtFWgOjz5KYkPNh8+dOtlXsCPrKUc+7KvmA==";
const char* kSha1Sri = "sha1-oCRlVFikjQV/ehbtMx3no/lSPgo=";
const char* kShasum = "a024655458a48d057f7a16ed331de7a3f9523e0a";
const char* kSha256 = "52edf960222fec607bddc31ec3de066a12de646388d3bf2982469d1cf794e8f2";

bool Check(core::Result<gateway::IntegrityCheck> check, const std::string& bytes, std::size_t chunk) {
  REQUIRE(check.ok());
  for (std::size_t i = 0; i < bytes.size(); i += chunk)
    check->Update(std::string_view(bytes).substr(i, chunk));
  return check->Finish();
}

}  // namespace

TEST_CASE("integrity: npm's sha512 SRI matches the file, in any chunking, and not a changed byte",
          "[gateway]") {
  auto check = gateway::IntegrityCheck::FromNpm(kSha512, "");
  REQUIRE(check.ok());
  CHECK(check->expected() == kSha512);
  std::string content = Content();
  CHECK(Check(gateway::IntegrityCheck::FromNpm(kSha512, ""), content, content.size()));
  CHECK(Check(gateway::IntegrityCheck::FromNpm(kSha512, ""), content, 7));
  std::string tampered = content;
  tampered[9999] ^= 1;
  auto bad = gateway::IntegrityCheck::FromNpm(kSha512, "");
  REQUIRE(bad.ok());
  bad->Update(tampered);
  CHECK_FALSE(bad->Finish());
  CHECK(bad->actual().starts_with("sha512-"));
  CHECK(bad->actual() != kSha512);
  // A truncated file fails too.
  CHECK_FALSE(
      Check(gateway::IntegrityCheck::FromNpm(kSha512, ""), content.substr(0, content.size() - 1), 4096));
}

TEST_CASE("integrity: the strongest hash an SRI names is the one checked", "[gateway]") {
  // A correct sha1 beside a wrong sha512: sha512 decides.
  std::string wrong512 = std::string(kSha512);
  wrong512[10] = wrong512[10] == 'A' ? 'B' : 'A';
  auto check = gateway::IntegrityCheck::FromNpm(std::string(kSha1Sri) + " " + wrong512, kShasum);
  REQUIRE(check.ok());
  CHECK(check->expected() == wrong512);
  CHECK_FALSE(Check(std::move(check), Content(), 100));
  // Two digests of the strongest algorithm: either matching passes (SRI's rule).
  auto either = gateway::IntegrityCheck::FromNpm(wrong512 + " " + kSha512, "");
  REQUIRE(either.ok());
  CHECK(either->expected() == wrong512 + " " + kSha512);
  CHECK(Check(std::move(either), Content(), 100));
  // SRI options after '?' are ignored.
  CHECK(Check(gateway::IntegrityCheck::FromNpm(std::string(kSha512) + "?foo", ""), Content(), 100));
}

TEST_CASE("integrity: old packages checked by sha1 SRI or shasum; PyPI by sha256", "[gateway]") {
  CHECK(Check(gateway::IntegrityCheck::FromNpm(kSha1Sri, ""), Content(), 1000));
  auto shasum = gateway::IntegrityCheck::FromNpm("", kShasum);
  REQUIRE(shasum.ok());
  CHECK(Check(std::move(shasum), Content(), 1000));
  auto pypi = gateway::IntegrityCheck::FromSha256Hex(kSha256);
  REQUIRE(pypi.ok());
  CHECK(Check(std::move(pypi), Content(), 333));
}

TEST_CASE("integrity: nothing usable published is an error, never an unchecked pass", "[gateway]") {
  CHECK_FALSE(gateway::IntegrityCheck::FromNpm("", "").ok());
  CHECK_FALSE(gateway::IntegrityCheck::FromNpm("md5-XrY7u+Ae7tCTyyK7j1rNww==", "").ok());
  CHECK_FALSE(gateway::IntegrityCheck::FromNpm("sha512-notbase64!", "nothex").ok());
  CHECK_FALSE(gateway::IntegrityCheck::FromNpm("sha512-AAAA", "").ok());  // a digest of the wrong length
  CHECK_FALSE(gateway::IntegrityCheck::FromSha256Hex("abc").ok());
  CHECK(gateway::IntegrityCheck::FromNpm("", kShasum).ok());
}
