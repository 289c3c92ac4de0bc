#include "aws_client.hpp"

#include <fmt/format.h>

#include <ctime>
#include <future>
#include <random>
#include <set>
#include <thread>

#include "pkgtrust/core/json_limits.hpp"
#include "pkgtrust/core/percent_encoding.hpp"

namespace pkgtrust::bus {
namespace {

using core::Status;
using json = nlohmann::json;

// AWS's error codes (both protocols) by what the caller can do about them.
const std::set<std::string, std::less<>> kThrottled = {
    "Throttling",        "ThrottlingException",    "RequestThrottled",   "TooManyRequestsException",
    "RequestLimitExceeded", "ServiceUnavailable", "InternalError",      "InternalFailure",
    "KMSThrottlingException", "OverLimit"};
const std::set<std::string, std::less<>> kExpired = {"ExpiredToken", "ExpiredTokenException", "TokenRefreshRequired"};
const std::set<std::string, std::less<>> kDenied = {
    "InvalidClientTokenId",   "UnrecognizedClientException", "SignatureDoesNotMatch", "IncompleteSignature",
    "AccessDenied",           "AccessDeniedException",      "AuthorizationError",    "MissingAuthenticationToken",
    "InvalidSecurity",        "RequestExpired",             "OptInRequired"};
const std::set<std::string, std::less<>> kMissing = {
    "NotFound", "NotFoundException", "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue",
    "NonExistentQueue"};

Status AwsError(std::string_view service, std::string_view action, int http_status, std::string code,
                std::string message) {
  // SQS's JSON protocol names codes as "com.amazonaws.sqs#QueueDoesNotExist".
  if (auto hash = code.rfind('#'); hash != std::string::npos) code = code.substr(hash + 1);
  if (message.empty()) message = "no message";
  std::string what = fmt::format("{} {}: {} ({}, HTTP {})", service, action, message, code, http_status);
  if (kThrottled.contains(code) || http_status >= 500 || http_status == 429)
    return Status::Unavailable(what + ": AWS is throttling or failing; retried later");
  if (kExpired.contains(code))
    return Status::FailedPrecondition(
        what + ": the AWS credentials have expired; renew AWS_SESSION_TOKEN (or the keys) and restart");
  if (kDenied.contains(code) || http_status == 401 || http_status == 403)
    return Status::FailedPrecondition(
        what + ": check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, the clock, and the IAM permissions");
  if (kMissing.contains(code) || http_status == 404)
    return Status::NotFound(what + ": create it with `pkgtrust topology apply`");
  return Status::InvalidArgument(what);
}

std::string FormEncode(const FormParams& params) {
  std::string body;
  for (const auto& [name, value] : params) {
    if (!body.empty()) body += '&';
    body += core::PercentEncode(name) + "=" + core::PercentEncode(value);
  }
  return body;
}

std::string Endpoint(const std::string& url) { return url.ends_with('/') ? url : url + "/"; }

// Blocks on an asynchronous call, retrying what is worth retrying.
template <typename T, typename Call>
core::Result<T> CallWithRetries(Call call) {
  std::mt19937 rng(std::random_device{}());
  for (int attempt = 1;; ++attempt) {
    std::promise<core::Result<T>> promise;
    auto future = promise.get_future();
    call([&promise](core::Result<T> result) { promise.set_value(std::move(result)); });
    core::Result<T> result = future.get();
    if (result.ok() || attempt >= 4 || !IsRetryableAwsError(result.status())) return result;
    int ceiling = 200 << attempt;  // 400, 800, 1600 ms, full jitter
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(ceiling / 4, ceiling)(rng)));
  }
}

}  // namespace

bool IsRetryableAwsError(const Status& status) {
  return status.code() == core::StatusCode::kUnavailable || status.code() == core::StatusCode::kDeadlineExceeded;
}

std::string XmlText(pugi::xml_node node, const char* child) { return node.child(child).text().as_string(); }

std::string JsonString(const json& object, const char* key, const char* fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string(fallback);
}

const json& JsonMember(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) return kNull;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

AwsClient::AwsClient(AwsEndpoints endpoints, net::AwsCredentials credentials, net::HttpClient& http)
    : endpoints_(std::move(endpoints)), credentials_(std::move(credentials)), http_(http) {}

void AwsClient::Send(net::HttpRequest request, std::string_view service,
                     std::function<void(core::Result<net::HttpResponse>)> done) {
  if (Status signed_ok =
          net::SignHttpRequest(request, credentials_, endpoints_.region, service, std::time(nullptr));
      !signed_ok.ok()) {
    done(signed_ok);
    return;
  }
  request.max_attempts = 3;  // connection errors and 5xx; AWS's throttling answers come back to us
  request.retry_429 = true;
  request.max_body_bytes = 16u << 20;
  http_.Fetch(std::move(request), std::move(done));
}

void AwsClient::Sns(std::string_view action, FormParams params, std::function<void(core::Result<SnsAnswer>)> done,
                    std::chrono::milliseconds timeout) {
  params.insert(params.begin(), {{"Action", std::string(action)}, {"Version", "2010-03-31"}});
  net::HttpRequest request;
  request.method = "POST";
  request.url = Endpoint(endpoints_.sns_url);
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  request.body = FormEncode(params);
  request.timeout = timeout;
  Send(std::move(request), "sns",
       [action = std::string(action), done = std::move(done)](core::Result<net::HttpResponse> response) {
         if (!response.ok()) {
           done(response.status().WithContext("SNS " + action));
           return;
         }
         auto document = std::make_shared<pugi::xml_document>();
         pugi::xml_parse_result parsed = document->load_buffer(response->body.data(), response->body.size());
         if (response->status != 200) {
           pugi::xml_node error = document->child("ErrorResponse").child("Error");
           done(AwsError("SNS", action, response->status, XmlText(error, "Code"), XmlText(error, "Message")));
           return;
         }
         pugi::xml_node result = document->child((action + "Response").c_str()).child((action + "Result").c_str());
         if (!parsed || !document->child((action + "Response").c_str())) {
           done(Status::Unavailable(fmt::format("SNS {}: the answer is not the XML AWS sends ({}): {:.200}", action,
                                                parsed.description(), response->body)));
           return;
         }
         done(SnsAnswer{std::move(document), result});
       });
}

void AwsClient::Sqs(std::string_view action, json body, std::function<void(core::Result<json>)> done,
                    std::chrono::milliseconds timeout) {
  net::HttpRequest request;
  request.method = "POST";
  request.url = Endpoint(endpoints_.sqs_url);
  request.headers = {{"Content-Type", "application/x-amz-json-1.0"},
                     {"X-Amz-Target", fmt::format("AmazonSQS.{}", action)}};
  request.body = body.is_null() ? "{}" : body.dump();
  request.timeout = timeout;
  Send(std::move(request), "sqs",
       [action = std::string(action), done = std::move(done)](core::Result<net::HttpResponse> response) {
         if (!response.ok()) {
           done(response.status().WithContext("SQS " + action));
           return;
         }
         json answer = core::JsonNestingWithin(response->body)
                           ? json::parse(response->body, nullptr, /*allow_exceptions=*/false)
                           : json(json::value_t::discarded);
         if (response->status != 200) {
           std::string code, message;
           if (answer.is_object()) {
             code = JsonString(answer, "__type", JsonString(answer, "code").c_str());
             message = JsonString(answer, "message", JsonString(answer, "Message").c_str());
           }
           // The query-protocol code, when AWS sends it, is the more specific one.
           if (const std::string* query_error = response->Header("x-amzn-query-error"))
             code = query_error->substr(0, query_error->find(';'));
           done(AwsError("SQS", action, response->status, code, message));
           return;
         }
         if (!answer.is_object()) {
           done(Status::Unavailable(
               fmt::format("SQS {}: the answer is not a JSON object: {:.200}", action, response->body)));
           return;
         }
         done(std::move(answer));
       });
}

core::Result<std::map<std::string, std::string>> ListTopicArns(AwsClient& aws) {
  std::map<std::string, std::string> arns;
  std::string token;
  do {
    FormParams params;
    if (!token.empty()) params.emplace_back("NextToken", token);
    auto answer = aws.SnsSync("ListTopics", params);
    if (!answer.ok()) return answer.status();
    for (pugi::xml_node member : answer->result.child("Topics").children("member")) {
      std::string arn = XmlText(member, "TopicArn");
      arns[arn.substr(arn.rfind(':') + 1)] = arn;
    }
    token = XmlText(answer->result, "NextToken");
  } while (!token.empty());
  return arns;
}

core::Result<SnsAnswer> AwsClient::SnsSync(std::string_view action, FormParams params) {
  return CallWithRetries<SnsAnswer>([&](auto done) { Sns(action, params, std::move(done)); });
}

core::Result<json> AwsClient::SqsSync(std::string_view action, json request) {
  return CallWithRetries<json>([&](auto done) { Sqs(action, request, std::move(done)); });
}

}  // namespace pkgtrust::bus
