#include "pkgtrust/net/sigv4.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <map>
#include <vector>

#include "pkgtrust/core/percent_encoding.hpp"
#include "pkgtrust/net/url.hpp"

namespace pkgtrust::net {
namespace {

using core::Status;

std::string Hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (std::size_t i = 0; i < size; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xF];
  }
  return out;
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return Hex(digest, sizeof digest);
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), digest, &size);
  return std::string(reinterpret_cast<const char*>(digest), size);
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// Leading and trailing spaces removed, inner runs of spaces folded to one.
std::string TrimHeaderValue(std::string_view value) {
  std::string out;
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

// RFC 3986 dot-segment removal and empty segments dropped, then each segment encoded.
std::string CanonicalPath(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view segment = path.substr(start, end - start);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    start = end + 1;
  }
  bool trailing_slash = !path.empty() && path.back() == '/' && !segments.empty();
  std::string out;
  for (std::string_view segment : segments) out += "/" + core::PercentEncode(segment);
  if (out.empty() || trailing_slash) out += "/";
  return out;
}

// Parameters decoded (when they are validly encoded), re-encoded, sorted by name then value.
std::string CanonicalQuery(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  std::size_t start = 0;
  while (start < query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    std::string_view pair = query.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    std::size_t eq = pair.find('=');
    std::string_view name = pair.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    auto decode = [](std::string_view text) {
      auto decoded = core::PercentDecode(text);
      return core::PercentEncode(decoded.ok() ? std::string_view(*decoded) : text);
    };
    params.emplace_back(decode(name), decode(value));
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

}  // namespace

core::Result<AwsCredentials> AwsCredentialsFromEnvironment() {
  AwsCredentials credentials;
  const char* id = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  if (id == nullptr || *id == '\0')
    return Status::FailedPrecondition("AWS credentials: AWS_ACCESS_KEY_ID is not set");
  if (secret == nullptr || *secret == '\0')
    return Status::FailedPrecondition("AWS credentials: AWS_SECRET_ACCESS_KEY is not set");
  credentials.access_key_id = id;
  credentials.secret_access_key = secret;
  if (const char* token = std::getenv("AWS_SESSION_TOKEN")) credentials.session_token = token;
  return credentials;
}

std::string AmzDate(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char buffer[20];
  std::strftime(buffer, sizeof buffer, "%Y%m%dT%H%M%SZ", &utc);
  return buffer;
}

SigV4Signature SignV4(const SigV4Request& request, const AwsCredentials& credentials, std::string_view region,
                      std::string_view service, std::string_view amz_date) {
  // Headers by lower-case name, in name order; repeated headers keep their order.
  std::map<std::string, std::string> headers;
  if (request.headers != nullptr) {
    for (const auto& [name, value] : *request.headers) {
      std::string& joined = headers[Lower(name)];
      if (!joined.empty()) joined += ',';
      joined += TrimHeaderValue(value);
    }
  }
  std::string canonical_headers, signed_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += name + ":" + value + "\n";
    if (!signed_headers.empty()) signed_headers += ';';
    signed_headers += name;
  }

  SigV4Signature out;
  out.canonical_request = fmt::format("{}\n{}\n{}\n{}\n{}\n{}", request.method, CanonicalPath(request.path),
                                      CanonicalQuery(request.query), canonical_headers, signed_headers,
                                      Sha256Hex(request.body));
  std::string_view date = amz_date.substr(0, 8);
  std::string scope = fmt::format("{}/{}/{}/aws4_request", date, region, service);
  out.string_to_sign =
      fmt::format("AWS4-HMAC-SHA256\n{}\n{}\n{}", amz_date, scope, Sha256Hex(out.canonical_request));

  std::string key = HmacSha256("AWS4" + credentials.secret_access_key, date);
  key = HmacSha256(key, region);
  key = HmacSha256(key, service);
  key = HmacSha256(key, "aws4_request");
  std::string signature = HmacSha256(key, out.string_to_sign);
  out.authorization = fmt::format("AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={}, Signature={}",
                                  credentials.access_key_id, scope, signed_headers,
                                  Hex(reinterpret_cast<const unsigned char*>(signature.data()), signature.size()));
  return out;
}

Status SignHttpRequest(HttpRequest& request, const AwsCredentials& credentials, std::string_view region,
                       std::string_view service, std::int64_t unix_seconds) {
  auto url = ParseUrl(request.url);
  if (!url.ok()) return url.status();
  bool default_port = (url->tls() && url->port == "443") || (!url->tls() && url->port == "80");
  std::string host = url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host;
  if (!default_port) host += ":" + url->port;
  std::string amz_date = AmzDate(unix_seconds);

  // Drop any earlier signature (a request signed again for a retry).
  std::erase_if(request.headers, [](const auto& header) {
    std::string name = Lower(header.first);
    return name == "host" || name == "x-amz-date" || name == "x-amz-security-token" || name == "authorization";
  });
  request.headers.emplace_back("Host", host);
  request.headers.emplace_back("X-Amz-Date", amz_date);
  if (!credentials.session_token.empty())
    request.headers.emplace_back("X-Amz-Security-Token", credentials.session_token);

  std::string_view target = url->target;
  std::size_t question = target.find('?');
  SigV4Request to_sign{request.method, target.substr(0, question),
                       question == std::string_view::npos ? std::string_view() : target.substr(question + 1),
                       &request.headers, request.body};
  request.headers.emplace_back("Authorization",
                               SignV4(to_sign, credentials, region, service, amz_date).authorization);
  return Status::Ok();
}

}  // namespace pkgtrust::net
