// SigV4 against AWS's published test suite: every case's canonical request, string to
// sign and Authorization header must match to the byte.
#include "pkgtrust/net/sigv4.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

namespace pkgtrust::net {
namespace {

nlohmann::json LoadSuite() {
  return nlohmann::json::parse(testing::ReadText(testing::FixturePath("sigv4/aws-sig-v4-test-suite.json")));
}

TEST_CASE("SigV4 matches every case of AWS's test suite", "[net][sigv4]") {
  nlohmann::json suite = LoadSuite();
  AwsCredentials credentials{suite["config"]["accessKeyId"], suite["config"]["secretAccessKey"], ""};
  std::string region = suite["config"]["region"], service = suite["config"]["service"];
  const auto& cases = suite["tests"]["all"];
  REQUIRE(cases.size() == 28);
  int inconsistent = 0;
  for (const auto& test : cases) {
    std::string name = test["name"];
    if (name == "post-sts-header-after") continue;  // below: the token is added after signing
    INFO(name);
    const auto& request = test["request"];
    Headers headers;
    std::string amz_date;
    for (const auto& header : request["headers"]) {
      headers.emplace_back(header[0], header[1]);
      if (header[0] == "X-Amz-Date") amz_date = header[1];
    }
    std::string method = request["method"], path = request["path"], query = request["query"],
                body = request["body"];
    SigV4Signature signature =
        SignV4({method, path, query, &headers, body}, credentials, region, service, amz_date);
    CHECK(signature.canonical_request == test["creq"].get<std::string>());
    // In these two cases the suite's string to sign does not hash its own canonical request
    // (sha256 of the .creq is a1a6cdc4... and 40329ab1..., the .sts says 42a5e5bb... and
    // 2e1cf7ed...: the .creq gained Content-Length, the .sts and .authz were not redone).
    // The canonical request is what they can check.
    if (name == "post-x-www-form-urlencoded" || name == "post-x-www-form-urlencoded-parameters") {
      inconsistent++;
      continue;
    }
    CHECK(signature.string_to_sign == test["sts"].get<std::string>());
    CHECK(signature.authorization == test["authz"].get<std::string>());
  }
  CHECK(inconsistent == 2);
}

TEST_CASE("SigV4 with a session token added after signing (post-sts-header-after)", "[net][sigv4]") {
  nlohmann::json suite = LoadSuite();
  for (const auto& test : suite["tests"]["sts"]) {
    if (test["name"] != "post-sts-header-after") continue;
    AwsCredentials credentials{suite["config"]["accessKeyId"], suite["config"]["secretAccessKey"],
                               suite["stsToken"]};
    Headers headers;
    for (const auto& header : test["request"]["headers"]) headers.emplace_back(header[0], header[1]);
    SigV4Signature signature = SignV4({"POST", "/", "", &headers, ""}, credentials, "us-east-1", "service",
                                      "20150830T123600Z");
    CHECK(signature.authorization == test["authz"].get<std::string>());
    // The token is sent, not signed: the request text carries it after the signature.
    CHECK(test["sreq"].get<std::string>().find("X-Amz-Security-Token:" + suite["stsToken"].get<std::string>()) !=
          std::string::npos);
  }
}

TEST_CASE("SignHttpRequest sets Host, X-Amz-Date, the token and a signature over them", "[net][sigv4]") {
  AwsCredentials credentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "token-1"};
  HttpRequest request;
  request.method = "POST";
  request.url = "http://127.0.0.1:4566/?Action=ListTopics";
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
  request.body = "Action=ListTopics&Version=2010-03-31";
  REQUIRE(SignHttpRequest(request, credentials, "eu-west-1", "sns", 1440938160).ok());
  auto header = [&](std::string_view name) {
    for (const auto& [n, v] : request.headers)
      if (n == name) return v;
    return std::string();
  };
  CHECK(header("Host") == "127.0.0.1:4566");
  CHECK(header("X-Amz-Date") == "20150830T123600Z");
  CHECK(header("X-Amz-Security-Token") == "token-1");
  std::string authorization = header("Authorization");
  CHECK(authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/eu-west-1/sns/aws4_request, "
                                  "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="));

  // Signing the same request again (a retry) replaces the signature instead of adding one.
  REQUIRE(SignHttpRequest(request, credentials, "eu-west-1", "sns", 1440938161).ok());
  int authorizations = 0;
  for (const auto& [n, v] : request.headers) authorizations += n == "Authorization";
  CHECK(authorizations == 1);
  CHECK(header("X-Amz-Date") == "20150830T123601Z");

  // An IPv6 literal goes in brackets, as the HTTP client sends it.
  HttpRequest v6;
  v6.url = "http://[::1]:9324/";
  REQUIRE(SignHttpRequest(v6, credentials, "eu-west-1", "sqs", 0).ok());
  CHECK(v6.headers[0].second == "[::1]:9324");
}

TEST_CASE("AWS credentials come from the environment, naming what is missing", "[net][sigv4]") {
  ::setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  auto missing = AwsCredentialsFromEnvironment();
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.status().message(), Catch::Contains("AWS_SECRET_ACCESS_KEY"));
  ::setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
  ::unsetenv("AWS_SESSION_TOKEN");
  auto found = AwsCredentialsFromEnvironment();
  REQUIRE(found.ok());
  CHECK(found->access_key_id == "AKID");
  CHECK(found->session_token.empty());
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
}

}  // namespace
}  // namespace pkgtrust::net
