// Private to the bus module: SNS (query protocol: form-encoded POST, XML answers) and SQS
// (JSON protocol: X-Amz-Target, application/x-amz-json-1.0) calls over the project's HTTP
// client, signed with SigV4. AWS's error answers become Statuses that name the service,
// the action, AWS's error code and what to do about it; throttling and server errors are
// kUnavailable (worth retrying later), missing resources kNotFound, credential and
// permission problems kFailedPrecondition, bad requests kInvalidArgument.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <pugixml.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pkgtrust/core/status.hpp"
#include "pkgtrust/net/http_client.hpp"
#include "pkgtrust/net/sigv4.hpp"

namespace pkgtrust::bus {

struct AwsEndpoints {
  std::string region;
  std::string sns_url;  // e.g. "https://sns.eu-west-1.amazonaws.com" or an emulator's "http://127.0.0.1:4566"
  std::string sqs_url;
};

using FormParams = std::vector<std::pair<std::string, std::string>>;

// An SNS answer: the document and its <ActionResult> element.
struct SnsAnswer {
  std::shared_ptr<pugi::xml_document> document;
  pugi::xml_node result;
};

// Safe for concurrent use. Callbacks run on the HTTP client's threads.
class AwsClient {
 public:
  AwsClient(AwsEndpoints endpoints, net::AwsCredentials credentials, net::HttpClient& http);

  void Sns(std::string_view action, FormParams params, std::function<void(core::Result<SnsAnswer>)> done,
           std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void Sqs(std::string_view action, nlohmann::json request,
           std::function<void(core::Result<nlohmann::json>)> done,
           std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Blocking forms (start-up, `pkgtrust topology`): throttling and server errors are
  // retried a few times with backoff before the error is returned.
  core::Result<SnsAnswer> SnsSync(std::string_view action, FormParams params);
  core::Result<nlohmann::json> SqsSync(std::string_view action, nlohmann::json request);

  const AwsEndpoints& endpoints() const { return endpoints_; }

 private:
  void Send(net::HttpRequest request, std::string_view service,
            std::function<void(core::Result<net::HttpResponse>)> done);

  AwsEndpoints endpoints_;
  net::AwsCredentials credentials_;
  net::HttpClient& http_;
};

// Every topic of the account and region, name -> ARN (ListTopics, all pages).
core::Result<std::map<std::string, std::string>> ListTopicArns(AwsClient& aws);

// Throttling, server errors, timeouts and lost connections: trying again later may work.
bool IsRetryableAwsError(const core::Status& status);

// The text of a child element, or "" (SNS answers).
std::string XmlText(pugi::xml_node node, const char* child);
// A string member of a JSON object, or `fallback` when it is missing or not a string; and
// a member of any type, or null. Never throw, whatever an answer holds (SQS answers).
std::string JsonString(const nlohmann::json& object, const char* key, const char* fallback = "");
const nlohmann::json& JsonMember(const nlohmann::json& object, const char* key);

}  // namespace pkgtrust::bus
