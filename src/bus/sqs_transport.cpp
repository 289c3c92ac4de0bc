#include "pkgtrust/bus/sqs_transport.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "aws_client.hpp"
#include "pkgtrust/core/json_limits.hpp"
#include "pkgtrust/core/log.hpp"
#include "pkgtrust/net/http_client.hpp"

namespace pkgtrust::bus {

using core::Status;
using json = nlohmann::json;
using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr std::size_t kSnsMaxMessageBytes = 256 * 1024;  // body and attributes together
constexpr std::size_t kBatchSize = 10;                   // SNS and SQS batch limit

const char* DataTypeName(AttributeType type) {
  switch (type) {
    case AttributeType::kNumber:
      return "Number";
    case AttributeType::kStringArray:
      return "String.Array";
    default:
      return "String";
  }
}

AttributeType ParseDataType(std::string_view name) {
  if (name.starts_with("Number")) return AttributeType::kNumber;
  if (name == "String.Array") return AttributeType::kStringArray;
  return AttributeType::kString;
}

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::string(value) : fallback;
}

// The message's size as SNS counts it: body plus attribute names, types and values.
std::size_t SnsSize(const Message& message) {
  std::size_t size = message.body.size();
  for (const auto& [name, value] : message.attributes.items())
    size += name.size() + std::strlen(DataTypeName(value.type)) + value.value.size();
  return size;
}

void AddAttributes(FormParams& params, const std::string& prefix, const Attributes& attributes) {
  int n = 0;
  for (const auto& [name, value] : attributes.items()) {
    std::string entry = fmt::format("{}MessageAttributes.entry.{}.", prefix, ++n);
    params.emplace_back(entry + "Name", name);
    params.emplace_back(entry + "Value.DataType", DataTypeName(value.type));
    params.emplace_back(entry + "Value.StringValue", value.value);
  }
}

// An SQS message as a Delivery: attributes from SQS (raw delivery) or from SNS's envelope.
Delivery ParseSqsMessage(const std::string& queue, const json& m) {
  Delivery delivery;
  delivery.queue = queue;
  delivery.message_id = JsonString(m, "MessageId");
  delivery.receipt = JsonString(m, "ReceiptHandle");
  delivery.receive_count = 1;
  if (auto attrs = m.find("Attributes"); attrs != m.end() && attrs->is_object()) {
    std::string count = JsonString(*attrs, "ApproximateReceiveCount", "1");
    delivery.receive_count = std::max(1, std::atoi(count.c_str()));
  }
  auto message = std::make_shared<Message>();
  message->body = JsonString(m, "Body");
  if (auto attrs = m.find("MessageAttributes"); attrs != m.end() && attrs->is_object()) {
    for (const auto& [name, value] : attrs->items()) {
      if (!value.is_object()) continue;
      message->attributes.Set(name,
                              {ParseDataType(JsonString(value, "DataType", "String")), JsonString(value, "StringValue")});
    }
  }
  // SNS's envelope (a subscription without raw delivery): the message and its attributes
  // are inside the body.
  if (message->attributes.empty() && message->body.starts_with('{') &&
      message->body.find("\"Notification\"") != std::string::npos) {
    json envelope = core::JsonNestingWithin(message->body) ? json::parse(message->body, nullptr, /*allow_exceptions=*/false)
                                                          : json(json::value_t::discarded);
    if (envelope.is_object() && JsonString(envelope, "Type") == "Notification" && envelope.contains("TopicArn") &&
        envelope.contains("Message") && envelope["Message"].is_string()) {
      auto unwrapped = std::make_shared<Message>();
      unwrapped->body = envelope["Message"].get<std::string>();
      if (auto attrs = envelope.find("MessageAttributes"); attrs != envelope.end() && attrs->is_object()) {
        for (const auto& [name, value] : attrs->items()) {
          if (!value.is_object()) continue;
          unwrapped->attributes.Set(name,
                                    {ParseDataType(JsonString(value, "Type", "String")), JsonString(value, "Value")});
        }
      }
      message = std::move(unwrapped);
    }
  }
  delivery.message = std::move(message);
  return delivery;
}

}  // namespace

core::Result<Delivery> DecodeSqsMessage(std::string_view queue, std::string_view message_json) {
  if (!core::JsonNestingWithin(message_json)) return Status::InvalidArgument("an SQS message nests too deep");
  json m = json::parse(message_json, nullptr, /*allow_exceptions=*/false);
  if (!m.is_object()) return Status::InvalidArgument("an SQS message is not a JSON object");
  return ParseSqsMessage(std::string(queue), m);
}

std::string SqsResourceName(const SqsTransportConfig& config, std::string_view logical_name) {
  return config.name_prefix + std::string(logical_name);
}

std::string DeadLetterQueueName(const SqsTransportConfig& config, std::string_view queue) {
  return SqsResourceName(config, queue) + "_dlq";
}

core::Result<SqsTransportConfig> ResolveSqsConfig(SqsTransportConfig config) {
  if (config.region.empty()) config.region = EnvOr("AWS_REGION", EnvOr("AWS_DEFAULT_REGION", ""));
  if (config.region.empty())
    return Status::FailedPrecondition(
        "transport sqs: no AWS region; set AWS_REGION (or transport.sqs.region in the config)");
  std::string shared = EnvOr("AWS_ENDPOINT_URL", "");
  if (config.sns_endpoint.empty())
    config.sns_endpoint =
        EnvOr("AWS_ENDPOINT_URL_SNS", shared.empty() ? fmt::format("https://sns.{}.amazonaws.com", config.region) : shared);
  if (config.sqs_endpoint.empty())
    config.sqs_endpoint =
        EnvOr("AWS_ENDPOINT_URL_SQS", shared.empty() ? fmt::format("https://sqs.{}.amazonaws.com", config.region) : shared);
  for (const std::string& prefix_or_name : {config.name_prefix}) {
    for (char c : prefix_or_name)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_')
        return Status::InvalidArgument(fmt::format(
            "transport sqs: name_prefix '{}' may hold only letters, digits, '-' and '_'", config.name_prefix));
  }
  return config;
}

class SqsTransport::Impl {
 public:
  struct OutEntry {
    std::string receipt;
    int visibility_seconds = -1;  // -1: delete
  };
  // Acks (deletes) or retries (visibility changes) waiting to be sent, sent in batches.
  struct Outbox {
    std::deque<OutEntry> pending;
    int in_flight = 0;
  };
  struct QueueState {
    std::string name, url, dlq_url, arn;
    std::vector<std::string> topics;  // the topology topics it is subscribed to
    std::deque<Delivery> buffer;  // received, not yet taken by Receive
    int polls_in_flight = 0;
    bool wanted = false;  // a stage reads it: keep it polled
    Steady::time_point next_poll_after{};
    int poll_failures = 0;
    Outbox deletes, visibility;
    std::int64_t received = 0, acked = 0, in_flight = 0, dead_lettered = 0;
  };
  struct InFlight {
    QueueState* queue;
    Steady::time_point received_at, visible_until;
  };
  struct PendingPublish {
    const Message* message;
    std::promise<Status> done;
  };
  struct TopicState {
    std::string arn;
    std::deque<PendingPublish*> pending;
    int in_flight = 0;
  };

  Impl(SqsTransportConfig config, net::AwsCredentials credentials)
      : config_(std::move(config)),
        http_(std::make_unique<net::BeastHttpClient>(net::HttpClientConfig{
            .threads = 1,
            .max_connections_per_host = config_.http_connections,
            .verify_tls = config_.verify_tls,
        })),
        aws_({config_.region, config_.sns_endpoint, config_.sqs_endpoint}, std::move(credentials), *http_) {}

  ~Impl() {
    {
      std::unique_lock lock(mu_);
      stopping_ = true;
      // Messages received ahead and never taken go back to the queue at once, for
      // another process to take.
      for (auto& [name, q] : queues_) {
        for (Delivery& d : q.buffer) {
          in_flight_.erase(d.receipt);
          q.visibility.pending.push_back({d.receipt, 0});
        }
        q.buffer.clear();
      }
    }
    cv_.notify_all();
    if (housekeeper_.joinable()) housekeeper_.join();
    SendAll();
    FlushFor(std::chrono::seconds(5));
    {
      std::unique_lock guard(http_guard_);
      closed_ = true;
    }
    http_.reset();  // ends the long polls still waiting
  }

  Status Resolve(const Topology& topology) {
    auto listed = ListTopicArns(aws_);
    if (!listed.ok()) return listed.status();
    const std::map<std::string, std::string>& arns = *listed;
    for (const std::string& topic : topology.Topics()) {
      std::string name = SqsResourceName(config_, topic);
      auto it = arns.find(name);
      if (it == arns.end())
        return Status::NotFound(fmt::format("SNS topic '{}' does not exist at {} ({}): create the topology "
                                            "with `pkgtrust topology apply`",
                                            name, config_.sns_endpoint, config_.region));
      topics_[topic].arn = it->second;
    }
    for (const QueueSpec& spec : topology.queues) {
      QueueState& q = queues_[spec.name];
      q.name = spec.name;
      std::vector<std::pair<std::string, std::string*>> lookups = {{SqsResourceName(config_, spec.name), &q.url}};
      if (config_.max_receives > 0) lookups.emplace_back(DeadLetterQueueName(config_, spec.name), &q.dlq_url);
      for (auto [name, url] : lookups) {
        auto answer = aws_.SqsSync("GetQueueUrl", {{"QueueName", name}});
        if (!answer.ok()) {
          if (answer.status().code() == core::StatusCode::kNotFound)
            return Status::NotFound(fmt::format("SQS queue '{}' does not exist at {} ({}): create the topology "
                                                "with `pkgtrust topology apply`",
                                                name, config_.sqs_endpoint, config_.region));
          return answer.status();
        }
        *url = JsonString(*answer, "QueueUrl");
      }
      auto arn = aws_.SqsSync("GetQueueAttributes", {{"QueueUrl", q.url}, {"AttributeNames", {"QueueArn"}}});
      if (!arn.ok()) return arn.status();
      q.arn = JsonString(JsonMember(*arn, "Attributes"), "QueueArn");
      q.topics = spec.topics;
    }
    // A missing subscription does not stop the start (the queues exist; apply may be
    // running right now), but readiness fails, naming it, until it exists.
    CheckSubscriptions();
    housekeeper_ = std::thread([this] { Housekeep(); });
    return Status::Ok();
  }

  // Lists each topic's subscriptions and sets health_: Ok when every (topic, queue) pair
  // of the topology is subscribed, else an error naming the missing ones.
  void CheckSubscriptions() {
    std::vector<std::string> missing;
    Status failure = Status::Ok();
    for (const auto& [topic, state] : topics_) {
      std::set<std::string> endpoints;
      std::string token;
      do {
        FormParams params = {{"TopicArn", state.arn}};
        if (!token.empty()) params.emplace_back("NextToken", token);
        auto answer = aws_.SnsSync("ListSubscriptionsByTopic", params);
        if (!answer.ok()) {
          failure = answer.status();
          break;
        }
        for (pugi::xml_node member : answer->result.child("Subscriptions").children("member"))
          if (XmlText(member, "Protocol") == "sqs" && XmlText(member, "SubscriptionArn").starts_with("arn:"))
            endpoints.insert(XmlText(member, "Endpoint"));
        token = XmlText(answer->result, "NextToken");
      } while (!token.empty());
      if (!failure.ok()) break;
      for (const auto& [name, q] : queues_)
        if (std::find(q.topics.begin(), q.topics.end(), topic) != q.topics.end() &&
            !endpoints.contains(q.arn))
          missing.push_back(
              fmt::format("{} -> {}", SqsResourceName(config_, topic), SqsResourceName(config_, name)));
    }
    Status health = Status::Ok();
    if (!failure.ok())
      health = Status::Unavailable(fmt::format("cannot list the SNS subscriptions: {}", failure.message()));
    else if (!missing.empty())
      health = Status::FailedPrecondition(
          fmt::format("{} SNS subscription{} missing ({}): messages published to {} reach no queue; create "
                      "them with `pkgtrust topology apply`",
                      missing.size(), missing.size() == 1 ? " is" : "s are", fmt::join(missing, ", "),
                      missing.size() == 1 ? "that topic" : "those topics"));
    std::lock_guard lock(health_mu_);
    if (health.message() != health_.message()) {
      if (health.ok())
        core::Log(core::LogLevel::kInfo, "sqs", "every subscription of the topology exists now");
      else
        core::Log(core::LogLevel::kError, "sqs", "{}", health.message());
    }
    health_ = std::move(health);
  }

  Status Health() const {
    std::lock_guard lock(health_mu_);
    return health_;
  }

  // --- publishing -------------------------------------------------------------------

  Status Publish(std::string_view topic, const Message& message) {
    auto it = topics_.find(std::string(topic));
    if (it == topics_.end())
      return Status::NotFound(fmt::format("publish: topic '{}' is not in the topology", topic));
    if (std::size_t size = SnsSize(message); size > kSnsMaxMessageBytes)
      return Status::InvalidArgument(fmt::format("publish to {}: the message is {} bytes, more than SNS's {} bytes",
                                                 topic, size, kSnsMaxMessageBytes));
    std::mt19937 rng(std::random_device{}());
    for (int attempt = 1;; ++attempt) {
      Status status = config_.batching ? PublishBatched(it->second, message) : PublishOne(it->second, message);
      if (status.ok()) published_++;
      if (status.ok() || attempt >= 4 || !IsRetryableAwsError(status)) return status;
      int ceiling = 100 << attempt;  // 200, 400, 800 ms, full jitter: back-pressure while AWS throttles
      std::this_thread::sleep_for(milliseconds(std::uniform_int_distribution<int>(ceiling / 4, ceiling)(rng)));
    }
  }

  Status PublishOne(TopicState& topic, const Message& message) {
    FormParams params = {{"TopicArn", topic.arn}, {"Message", message.body}};
    AddAttributes(params, "", message.attributes);
    std::promise<Status> promise;
    auto future = promise.get_future();
    if (!CallSns("Publish", std::move(params), [&promise](core::Result<SnsAnswer> answer) {
          promise.set_value(answer.ok() ? Status::Ok() : answer.status());
        }))
      return Status::Unavailable("publish: the transport is shut down");
    return future.get();
  }

  // Joins the topic's next PublishBatch. A request leaves as soon as fewer than
  // publish_requests_per_topic are in flight, so a lone publish never waits for company.
  Status PublishBatched(TopicState& topic, const Message& message) {
    PendingPublish pending{&message, {}};
    auto future = pending.done.get_future();
    std::vector<PendingPublish*> batch;
    {
      std::lock_guard lock(publish_mu_);
      topic.pending.push_back(&pending);
      if (topic.in_flight < config_.publish_requests_per_topic) batch = TakePublishBatch(topic);
    }
    if (!batch.empty()) SendPublishBatch(topic, std::move(batch));
    try {
      return future.get();
    } catch (const std::future_error&) {
      return Status::Unavailable("publish: the transport shut down before SNS answered");
    }
  }

  std::vector<PendingPublish*> TakePublishBatch(TopicState& topic) {  // caller holds publish_mu_
    std::vector<PendingPublish*> batch;
    while (!topic.pending.empty() && batch.size() < kBatchSize) {
      batch.push_back(topic.pending.front());
      topic.pending.pop_front();
    }
    if (!batch.empty()) topic.in_flight++;
    return batch;
  }

  void SendPublishBatch(TopicState& topic, std::vector<PendingPublish*> batch) {
    FormParams params = {{"TopicArn", topic.arn}};
    for (std::size_t i = 0; i < batch.size(); ++i) {
      std::string entry = fmt::format("PublishBatchRequestEntries.member.{}.", i + 1);
      params.emplace_back(entry + "Id", std::to_string(i));
      params.emplace_back(entry + "Message", batch[i]->message->body);
      AddAttributes(params, entry, batch[i]->message->attributes);
    }
    auto on_answer = [this, &topic, batch](core::Result<SnsAnswer> answer) {
      std::vector<Status> results(batch.size(), Status::Ok());
      if (!answer.ok()) {
        std::fill(results.begin(), results.end(), answer.status());
      } else {
        for (pugi::xml_node failed : answer->result.child("Failed").children("member")) {
          std::size_t id = std::strtoul(XmlText(failed, "Id").c_str(), nullptr, 10);
          if (id < results.size())
            results[id] = Status::Unavailable(fmt::format("SNS PublishBatch: entry failed: {} ({})",
                                                          XmlText(failed, "Message"), XmlText(failed, "Code")));
        }
      }
      for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->done.set_value(results[i]);
      std::vector<PendingPublish*> next;
      {
        std::lock_guard lock(publish_mu_);
        topic.in_flight--;
        next = TakePublishBatch(topic);
      }
      if (!next.empty()) SendPublishBatch(topic, std::move(next));
    };
    if (!CallSns("PublishBatch", std::move(params), on_answer))
      on_answer(Status::Unavailable("publish: the transport is shut down"));
  }

  // --- receiving --------------------------------------------------------------------

  std::vector<Delivery> Receive(std::string_view name, std::size_t max_messages) {
    std::vector<Delivery> out;
    std::vector<QueueState*> to_poll;
    {
      std::lock_guard lock(mu_);
      QueueState* q = Find(name);
      if (q == nullptr) return out;
      q->wanted = true;
      while (!q->buffer.empty() && out.size() < max_messages) {
        out.push_back(std::move(q->buffer.front()));
        q->buffer.pop_front();
      }
      PollsToStart(*q, to_poll);
    }
    for (QueueState* q : to_poll) StartPoll(*q);
    return out;
  }

  void WaitForMessages(std::span<const std::string> names, milliseconds max_wait) {
    std::vector<QueueState*> to_poll, watched;
    std::unique_lock lock(mu_);
    for (const std::string& name : names) {
      if (QueueState* q = Find(name)) {
        q->wanted = true;
        PollsToStart(*q, to_poll);
        watched.push_back(q);
      }
    }
    lock.unlock();
    for (QueueState* q : to_poll) StartPoll(*q);
    lock.lock();
    std::uint64_t generation = wake_generation_;
    cv_.wait_for(lock, max_wait, [&] {
      if (stopping_ || wake_generation_ != generation) return true;
      return std::any_of(watched.begin(), watched.end(), [](QueueState* q) { return !q->buffer.empty(); });
    });
  }

  // How many long polls to start on `q` so that buffered plus coming messages reach the
  // prefetch. Caller holds mu_.
  void PollsToStart(QueueState& q, std::vector<QueueState*>& out) {
    if (stopping_ || Steady::now() < q.next_poll_after) return;
    std::size_t per_poll = config_.batching ? kBatchSize : 1;
    while (q.buffer.size() + per_poll * static_cast<std::size_t>(q.polls_in_flight) <
               static_cast<std::size_t>(std::max(1, config_.prefetch)) &&
           q.polls_in_flight < 4) {
      q.polls_in_flight++;
      out.push_back(&q);
    }
  }

  void StartPoll(QueueState& q) {
    json request = {{"QueueUrl", q.url},
                    {"MaxNumberOfMessages", config_.batching ? kBatchSize : 1},
                    {"WaitTimeSeconds", config_.wait_time_seconds},
                    {"VisibilityTimeout", config_.visibility_timeout.count()},
                    {"MessageAttributeNames", {"All"}},
                    {"MessageSystemAttributeNames", {"ApproximateReceiveCount"}},
                    {"AttributeNames", {"ApproximateReceiveCount"}}};
    auto timeout = std::chrono::seconds(config_.wait_time_seconds + 10);
    bool sent = CallSqs("ReceiveMessage", std::move(request), [this, &q](core::Result<json> answer) {
      OnPollAnswer(q, std::move(answer));
    }, timeout);
    if (!sent) {
      std::lock_guard lock(mu_);
      q.polls_in_flight--;
    }
  }

  void OnPollAnswer(QueueState& q, core::Result<json> answer) {
    std::vector<QueueState*> to_poll;
    std::vector<OutEntry> give_back;
    {
      std::lock_guard lock(mu_);
      q.polls_in_flight--;
      if (!answer.ok()) {
        q.poll_failures++;
        auto backoff = milliseconds(std::min(30'000, 250 << std::min(q.poll_failures, 7)));
        q.next_poll_after = Steady::now() + backoff;
        core::Log(core::LogLevel::kWarn, "sqs", "receiving from {}: {} (next try in {} ms)", q.name,
                  answer.status().message(), backoff.count());
        return;  // the housekeeper starts the next poll after the backoff
      }
      q.poll_failures = 0;
      auto now = Steady::now();
      if (auto messages = answer->find("Messages"); messages != answer->end() && messages->is_array()) {
        for (const json& m : *messages) {
          if (!m.is_object()) continue;
          Delivery delivery = ParseSqsMessage(q.name, m);
          if (delivery.receipt.empty()) continue;
          if (stopping_) {
            give_back.push_back({delivery.receipt, 0});
            continue;
          }
          q.received++;
          q.in_flight++;
          in_flight_[delivery.receipt] = {&q, now, now + config_.visibility_timeout};
          q.buffer.push_back(std::move(delivery));
        }
      }
      for (OutEntry& entry : give_back) q.visibility.pending.push_back(std::move(entry));
      PollsToStart(q, to_poll);
    }
    cv_.notify_all();
    for (QueueState* next : to_poll) StartPoll(*next);
    if (!give_back.empty()) SendOutbox(q, /*deletes=*/false);
  }

  // --- acks and retries ---------------------------------------------------------------

  Status Settle(const Delivery& delivery, int visibility_seconds) {
    QueueState* q;
    {
      std::lock_guard lock(mu_);
      q = Find(delivery.queue);
      if (q == nullptr) return Status::NotFound(fmt::format("queue '{}' is not in the topology", delivery.queue));
      if (in_flight_.erase(delivery.receipt) > 0) q->in_flight--;
      if (visibility_seconds < 0) {
        q->acked++;
        q->deletes.pending.push_back({delivery.receipt, -1});
      } else {
        q->visibility.pending.push_back({delivery.receipt, visibility_seconds});
      }
    }
    SendOutbox(*q, visibility_seconds < 0);
    return Status::Ok();
  }

  // Sends the queue's pending deletes (or visibility changes): batches of 10, at most two
  // requests in flight per queue and kind, the next leaving when one is answered.
  void SendOutbox(QueueState& q, bool deletes) {
    while (true) {
      std::vector<OutEntry> batch;
      {
        std::lock_guard lock(mu_);
        Outbox& box = deletes ? q.deletes : q.visibility;
        int limit = config_.batching ? 2 : 16;
        if (box.pending.empty() || box.in_flight >= limit) return;
        std::size_t size = config_.batching ? kBatchSize : 1;
        while (!box.pending.empty() && batch.size() < size) {
          batch.push_back(std::move(box.pending.front()));
          box.pending.pop_front();
        }
        box.in_flight++;
      }
      auto on_answer = [this, &q, deletes, count = batch.size()](core::Result<json> answer) {
        if (!answer.ok()) {
          core::Log(IsRetryableAwsError(answer.status()) ? core::LogLevel::kWarn : core::LogLevel::kDebug, "sqs",
                    "{} on {}: {} message(s): {}", deletes ? "delete" : "visibility change", q.name, count,
                    answer.status().message());
        } else if (auto failed = answer->find("Failed"); failed != answer->end() && failed->is_array()) {
          for (const json& f : *failed)
            core::Log(core::LogLevel::kDebug, "sqs", "{} on {}: {} ({})", deletes ? "delete" : "visibility change",
                      q.name, JsonString(f, "Message"), JsonString(f, "Code"));
        }
        {
          std::lock_guard lock(mu_);
          (deletes ? q.deletes : q.visibility).in_flight--;
        }
        flushed_cv_.notify_all();
        SendOutbox(q, deletes);
      };
      bool sent;
      if (batch.size() == 1 && !config_.batching) {
        sent = deletes ? CallSqs("DeleteMessage", {{"QueueUrl", q.url}, {"ReceiptHandle", batch[0].receipt}}, on_answer)
                       : CallSqs("ChangeMessageVisibility",
                                 {{"QueueUrl", q.url},
                                  {"ReceiptHandle", batch[0].receipt},
                                  {"VisibilityTimeout", batch[0].visibility_seconds}},
                                 on_answer);
      } else {
        json entries = json::array();
        for (std::size_t i = 0; i < batch.size(); ++i) {
          json entry = {{"Id", std::to_string(i)}, {"ReceiptHandle", batch[i].receipt}};
          if (!deletes) entry["VisibilityTimeout"] = batch[i].visibility_seconds;
          entries.push_back(std::move(entry));
        }
        sent = CallSqs(deletes ? "DeleteMessageBatch" : "ChangeMessageVisibilityBatch",
                       {{"QueueUrl", q.url}, {"Entries", std::move(entries)}}, on_answer);
      }
      if (!sent) {
        std::lock_guard lock(mu_);
        (deletes ? q.deletes : q.visibility).in_flight--;
        return;
      }
    }
  }

  void SendAll() {
    for (auto& [name, q] : queues_) {
      SendOutbox(q, true);
      SendOutbox(q, false);
    }
  }

  bool FlushFor(milliseconds limit) {
    std::unique_lock lock(mu_);
    return flushed_cv_.wait_for(lock, limit, [&] {
      for (auto& [name, q] : queues_)
        if (!q.deletes.pending.empty() || q.deletes.in_flight > 0 || !q.visibility.pending.empty() ||
            q.visibility.in_flight > 0)
          return false;
      return true;
    });
  }

  // --- housekeeping: visibility extension, polls after a backoff, dead-letter counts ---

  void Housekeep() {
    auto period = std::clamp<milliseconds>(
        std::chrono::duration_cast<milliseconds>(config_.visibility_timeout) / 4, milliseconds(200),
        milliseconds(1000));
    auto next_dead_letter_count = Steady::now();
    auto next_subscription_check = Steady::now() + config_.subscription_check_interval;
    std::unique_lock lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, period, [&] { return stopping_; });
      if (stopping_) break;
      auto now = Steady::now();
      // Messages being worked on whose visibility would end within half the timeout get
      // another full timeout, until they have been held for max_extension.
      std::map<QueueState*, int> extended;
      for (auto& [receipt, entry] : in_flight_) {
        if (entry.visible_until - now > config_.visibility_timeout / 2) continue;
        if (now - entry.received_at >= config_.max_extension) continue;
        entry.visible_until = now + config_.visibility_timeout;
        entry.queue->visibility.pending.push_back(
            {receipt, static_cast<int>(config_.visibility_timeout.count())});
        extended[entry.queue]++;
      }
      std::vector<QueueState*> to_poll;
      for (auto& [name, q] : queues_)
        if (q.wanted) PollsToStart(q, to_poll);
      bool count_dead_letters = now >= next_dead_letter_count;
      if (count_dead_letters) next_dead_letter_count = now + std::chrono::seconds(15);
      bool check_subscriptions = now >= next_subscription_check;
      if (check_subscriptions) next_subscription_check = now + config_.subscription_check_interval;
      lock.unlock();
      if (check_subscriptions) CheckSubscriptions();
      for (auto& [q, n] : extended) {
        core::Log(core::LogLevel::kDebug, "sqs", "{}: visibility of {} message(s) extended", q->name, n);
        SendOutbox(*q, false);
      }
      for (QueueState* q : to_poll) StartPoll(*q);
      if (count_dead_letters)
        for (auto& [name, q] : queues_) RefreshDeadLetterCount(q);
      lock.lock();
    }
  }

  void RefreshDeadLetterCount(QueueState& q) {
    if (q.dlq_url.empty()) return;  // no dead-letter queue: max_receives is 0
    CallSqs("GetQueueAttributes",
            {{"QueueUrl", q.dlq_url},
             {"AttributeNames",
              {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
               "ApproximateNumberOfMessagesDelayed"}}},
            [this, &q](core::Result<json> answer) {
              if (!answer.ok()) return;
              std::int64_t count = CountMessages(*answer);
              std::lock_guard lock(mu_);
              q.dead_lettered = count;
            });
  }

  static std::int64_t CountMessages(const json& answer) {
    std::int64_t count = 0;
    if (auto attrs = answer.find("Attributes"); attrs != answer.end() && attrs->is_object())
      for (const auto& [name, value] : attrs->items())
        if (value.is_string()) count += std::atoll(value.get<std::string>().c_str());
    return count;
  }

  core::Result<std::int64_t> DeadLetterCount(std::string_view name) {
    std::string url;
    {
      std::lock_guard lock(mu_);
      QueueState* q = Find(name);
      if (q == nullptr) return Status::NotFound(fmt::format("queue '{}' is not in the topology", name));
      url = q->dlq_url;
    }
    if (url.empty()) return 0;
    auto answer = aws_.SqsSync("GetQueueAttributes",
                               {{"QueueUrl", url},
                                {"AttributeNames",
                                 {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                                  "ApproximateNumberOfMessagesDelayed"}}});
    if (!answer.ok()) return answer.status();
    return CountMessages(*answer);
  }

  void Interrupt() {
    {
      std::lock_guard lock(mu_);
      wake_generation_++;
    }
    cv_.notify_all();
  }

  TransportStats Stats() const {
    TransportStats stats;
    stats.published = published_;
    std::lock_guard lock(mu_);
    for (const auto& [name, q] : queues_) {
      QueueStats& s = stats.queues[name];
      s.visible = static_cast<std::int64_t>(q.buffer.size());
      s.in_flight = q.in_flight - static_cast<std::int64_t>(q.buffer.size());
      s.received = q.received;
      s.acked = q.acked;
      s.dead_lettered = q.dead_lettered;
    }
    return stats;
  }

 private:
  QueueState* Find(std::string_view name) {  // caller holds mu_
    auto it = queues_.find(std::string(name));
    return it == queues_.end() ? nullptr : &it->second;
  }

  // Every request goes through these: none leaves once the HTTP client is being torn down.
  bool CallSqs(std::string_view action, json request, std::function<void(core::Result<json>)> done,
               milliseconds timeout = std::chrono::seconds(10)) {
    std::shared_lock guard(http_guard_);
    if (closed_) return false;
    aws_.Sqs(action, std::move(request), std::move(done), timeout);
    return true;
  }
  bool CallSns(std::string_view action, FormParams params, std::function<void(core::Result<SnsAnswer>)> done) {
    std::shared_lock guard(http_guard_);
    if (closed_) return false;
    aws_.Sns(action, std::move(params), std::move(done));
    return true;
  }

  SqsTransportConfig config_;
  std::unique_ptr<net::BeastHttpClient> http_;
  AwsClient aws_;
  std::shared_mutex http_guard_;
  bool closed_ = false;  // guarded by http_guard_

  std::map<std::string, TopicState> topics_;  // by logical name; fixed after Resolve
  std::mutex publish_mu_;
  std::atomic<std::int64_t> published_{0};

  mutable std::mutex mu_;
  std::condition_variable cv_, flushed_cv_;
  std::map<std::string, QueueState> queues_;  // by logical name; fixed after Resolve
  std::unordered_map<std::string, InFlight> in_flight_;  // by receipt
  std::uint64_t wake_generation_ = 0;
  bool stopping_ = false;
  std::thread housekeeper_;
  mutable std::mutex health_mu_;
  Status health_ = Status::Ok();
};

core::Result<std::unique_ptr<SqsTransport>> SqsTransport::Create(const Topology& topology, SqsTransportConfig config,
                                                                  net::AwsCredentials credentials) {
  auto resolved = ResolveSqsConfig(std::move(config));
  if (!resolved.ok()) return resolved.status();
  auto impl = std::make_unique<Impl>(std::move(resolved).value(), std::move(credentials));
  if (Status status = impl->Resolve(topology); !status.ok()) return status;
  return std::unique_ptr<SqsTransport>(new SqsTransport(std::move(impl)));
}

SqsTransport::SqsTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqsTransport::~SqsTransport() = default;

Status SqsTransport::Publish(std::string_view topic, const Message& message) { return impl_->Publish(topic, message); }
std::vector<Delivery> SqsTransport::Receive(std::string_view queue, std::size_t max_messages) {
  return impl_->Receive(queue, max_messages);
}
void SqsTransport::WaitForMessages(std::span<const std::string> queues, milliseconds max_wait) {
  impl_->WaitForMessages(queues, max_wait);
}
Status SqsTransport::Ack(const Delivery& delivery) { return impl_->Settle(delivery, -1); }
Status SqsTransport::Retry(const Delivery& delivery, milliseconds delay) {
  // SQS counts visibility in whole seconds, at most 12 hours.
  auto seconds = std::clamp<std::int64_t>((delay.count() + 999) / 1000, 0, 43'200);
  return impl_->Settle(delivery, static_cast<int>(seconds));
}
void SqsTransport::Interrupt() { impl_->Interrupt(); }
TransportStats SqsTransport::Stats() const { return impl_->Stats(); }
Status SqsTransport::Health() const { return impl_->Health(); }
void SqsTransport::Flush() {
  impl_->SendAll();
  impl_->FlushFor(std::chrono::seconds(30));
}
core::Result<std::int64_t> SqsTransport::DeadLetterCount(std::string_view queue) {
  return impl_->DeadLetterCount(queue);
}

}  // namespace pkgtrust::bus
