// AWS Signature Version 4: the canonical request, the string to sign and the
// Authorization header, as AWS documents them for services other than S3 (paths are
// normalized; query parameters are sorted and RFC 3986-encoded; header values trimmed,
// inner runs of spaces folded, repeated headers joined with commas). Tested against
// AWS's published test suite (tests/fixtures/sigv4/, with its source).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pkgtrust/core/status.hpp"
#include "pkgtrust/net/http_client.hpp"

namespace pkgtrust::net {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // temporary credentials only; sent as X-Amz-Security-Token
};

// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (optional). An error
// names the variable that is missing.
core::Result<AwsCredentials> AwsCredentialsFromEnvironment();

// A request as the signer sees it. `path` is the request path as sent (not yet
// normalized), `query` the raw query string without '?'. `headers` must hold Host and
// X-Amz-Date; every header given is signed.
struct SigV4Request {
  std::string_view method;
  std::string_view path = "/";
  std::string_view query;
  const Headers* headers = nullptr;
  std::string_view body;
};

struct SigV4Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string authorization;  // the Authorization header's value
};

// `amz_date` is the X-Amz-Date value (YYYYMMDDTHHMMSSZ); its first 8 characters are the
// credential scope's date.
SigV4Signature SignV4(const SigV4Request& request, const AwsCredentials& credentials, std::string_view region,
                      std::string_view service, std::string_view amz_date);

// Signs an outgoing request in place: sets Host (as the HTTP client sends it),
// X-Amz-Date, X-Amz-Security-Token when the credentials have one, and Authorization.
// `unix_seconds` is the signing time. Fails only on a URL the client could not send.
core::Status SignHttpRequest(HttpRequest& request, const AwsCredentials& credentials, std::string_view region,
                             std::string_view service, std::int64_t unix_seconds);

// "20150830T123600Z" for a time in seconds since the epoch.
std::string AmzDate(std::int64_t unix_seconds);

}  // namespace pkgtrust::net
