#include "pkgtrust/bus/sqs_topology.hpp"

#include <fmt/format.h>

#include <functional>
#include <map>
#include <set>

#include "aws_client.hpp"
#include "pkgtrust/core/json_limits.hpp"
#include "pkgtrust/net/http_client.hpp"

namespace pkgtrust::bus {
namespace {

using core::Status;
using json = nlohmann::json;
using Action = TopologyChange::Action;

constexpr const char* kDeadLetterRetention = "1209600";  // 14 days, SQS's longest

struct LiveQueue {
  std::string url, arn;
  std::map<std::string, std::string> attributes;
};

struct LiveSubscription {
  std::string arn, endpoint;
  std::map<std::string, std::string> attributes;
};

// What exists, as far as it concerns this topology (names with the prefix).
struct Live {
  std::map<std::string, std::string> topics;  // name -> ARN
  std::map<std::string, LiveQueue> queues;    // name -> queue
  std::map<std::string, std::vector<LiveSubscription>> subscriptions;  // topic name -> its subscriptions
  std::string arn_partition, arn_region, arn_account;  // learned from any ARN seen

  void Learn(const std::string& arn) {
    // arn:partition:service:region:account:name
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (int i = 0; i < 5; ++i) {
      std::size_t colon = arn.find(':', start);
      if (colon == std::string::npos) return;
      parts.push_back(arn.substr(start, colon - start));
      start = colon + 1;
    }
    if (parts[0] != "arn" || parts[4].empty()) return;
    arn_partition = parts[1];
    arn_region = parts[3];
    arn_account = parts[4];
  }
  // The ARN a resource has or will have; empty while no ARN of the account has been seen.
  std::string Arn(std::string_view service, std::string_view name) const {
    if (arn_account.empty()) return {};
    return fmt::format("arn:{}:{}:{}:{}:{}", arn_partition, service, arn_region, arn_account, name);
  }
};

struct Step {
  TopologyChange change;
  std::function<Status(AwsClient&, Live&)> run;
};

std::string LastSegment(const std::string& text, char separator) {
  return text.substr(text.rfind(separator) + 1);
}

json ParseOrNull(const std::string& text) {
  return core::JsonNestingWithin(text) ? json::parse(text, nullptr, /*allow_exceptions=*/false) : json();
}

// --- reading the account ------------------------------------------------------------

core::Result<Live> ReadLive(AwsClient& aws, const SqsTransportConfig& config, const std::set<std::string>& topics) {
  Live live;
  auto topics_listed = ListTopicArns(aws);
  if (!topics_listed.ok()) return topics_listed.status();
  for (const auto& [name, arn] : *topics_listed) {
    live.Learn(arn);
    if (name.starts_with(config.name_prefix)) live.topics[name] = arn;
  }

  std::string token;
  do {
    json request = {{"MaxResults", 1000}};
    if (!config.name_prefix.empty()) request["QueueNamePrefix"] = config.name_prefix;
    if (!token.empty()) request["NextToken"] = token;
    auto answer = aws.SqsSync("ListQueues", request);
    if (!answer.ok()) return answer.status();
    for (const json& url : JsonMember(*answer, "QueueUrls")) {
      if (!url.is_string()) continue;
      LiveQueue queue{url.get<std::string>(), "", {}};
      auto attributes = aws.SqsSync("GetQueueAttributes", {{"QueueUrl", queue.url}, {"AttributeNames", {"All"}}});
      if (!attributes.ok()) {
        if (attributes.status().code() == core::StatusCode::kNotFound) continue;  // deleted meanwhile
        return attributes.status();
      }
      const json& found = JsonMember(*attributes, "Attributes");
      if (found.is_object())
        for (const auto& [name, value] : found.items())
          if (value.is_string()) queue.attributes[name] = value.get<std::string>();
      queue.arn = queue.attributes["QueueArn"];
      live.Learn(queue.arn);
      std::string name = LastSegment(queue.url, '/');
      if (name.starts_with(config.name_prefix)) live.queues[name] = std::move(queue);
    }
    token = JsonString(*answer, "NextToken");
  } while (!token.empty());

  for (const auto& [name, arn] : live.topics) {
    if (!topics.contains(name)) continue;  // a topic to prune goes with its subscriptions
    token.clear();
    do {
      FormParams params = {{"TopicArn", arn}};
      if (!token.empty()) params.emplace_back("NextToken", token);
      auto answer = aws.SnsSync("ListSubscriptionsByTopic", params);
      if (!answer.ok()) return answer.status();
      for (pugi::xml_node member : answer->result.child("Subscriptions").children("member")) {
        LiveSubscription subscription{XmlText(member, "SubscriptionArn"), XmlText(member, "Endpoint"), {}};
        if (XmlText(member, "Protocol") != "sqs") continue;
        if (subscription.arn.starts_with("arn:")) {
          auto attributes = aws.SnsSync("GetSubscriptionAttributes", {{"SubscriptionArn", subscription.arn}});
          if (!attributes.ok()) return attributes.status();
          for (pugi::xml_node entry : attributes->result.child("Attributes").children("entry"))
            subscription.attributes[XmlText(entry, "key")] = XmlText(entry, "value");
        }
        live.subscriptions[name].push_back(std::move(subscription));
      }
      token = XmlText(answer->result, "NextToken");
    } while (!token.empty());
  }
  return live;
}

// --- what the file asks for -----------------------------------------------------------

std::string QueuePolicy(const std::string& queue_arn, const std::vector<std::string>& topic_arns) {
  json policy = {
      {"Version", "2012-10-17"},
      {"Statement",
       {{{"Sid", "pkgtrust-topics"},
         {"Effect", "Allow"},
         {"Principal", {{"Service", "sns.amazonaws.com"}}},
         {"Action", "sqs:SendMessage"},
         {"Resource", queue_arn},
         {"Condition", {{"ArnEquals", {{"aws:SourceArn", topic_arns}}}}}}}}};
  return policy.dump();
}

std::map<std::string, std::string> DesiredQueueAttributes(const SqsTransportConfig& config, const QueueSpec& spec,
                                                          const Live& live) {
  std::string name = SqsResourceName(config, spec.name);
  std::map<std::string, std::string> attributes = {
      {"VisibilityTimeout", std::to_string(config.visibility_timeout.count())}};
  if (config.max_receives > 0)
    attributes["RedrivePolicy"] =
        json{{"deadLetterTargetArn", live.Arn("sqs", DeadLetterQueueName(config, spec.name))},
             {"maxReceiveCount", config.max_receives}}
            .dump();
  std::vector<std::string> topic_arns;
  for (const std::string& topic : spec.topics) topic_arns.push_back(live.Arn("sns", SqsResourceName(config, topic)));
  attributes["Policy"] = QueuePolicy(live.Arn("sqs", name), topic_arns);
  return attributes;
}

// Whether a live attribute already says what the desired one says (JSON compared parsed;
// maxReceiveCount may come back as a string).
bool SameAttribute(const std::string& name, const std::string& live, const std::string& desired) {
  if (name == "RedrivePolicy" || name == "Policy" || name == "FilterPolicy") {
    json a = ParseOrNull(live), b = ParseOrNull(desired);
    if (name == "FilterPolicy") {
      auto empty = [](const json& j) { return j.is_null() || (j.is_object() && j.empty()); };
      if (empty(a) || empty(b)) return empty(a) && empty(b);
    }
    if (name == "RedrivePolicy" && a.is_object() && a.contains("maxReceiveCount") &&
        a["maxReceiveCount"].is_string())
      a["maxReceiveCount"] = std::atoi(a["maxReceiveCount"].get<std::string>().c_str());
    return !a.is_discarded() && a == b;
  }
  return live == desired;
}

std::string Shorten(const std::string& text) { return text.size() <= 120 ? text : text.substr(0, 117) + "..."; }

// The attributes of `live` that differ from `desired`, with a "name: old -> new" line each.
std::map<std::string, std::string> Differences(const std::map<std::string, std::string>& live,
                                               const std::map<std::string, std::string>& desired,
                                               std::string* detail) {
  std::map<std::string, std::string> changed;
  for (const auto& [name, value] : desired) {
    auto it = live.find(name);
    std::string current = it == live.end() ? "" : it->second;
    if (SameAttribute(name, current, value)) continue;
    changed[name] = value;
    if (!detail->empty()) *detail += "; ";
    *detail += fmt::format("{}: {} -> {}", name, current.empty() ? "(unset)" : Shorten(current), Shorten(value));
  }
  return changed;
}

Status CreateQueue(AwsClient& aws, Live& live, const std::string& name,
                   const std::map<std::string, std::string>& attributes) {
  auto created = aws.SqsSync("CreateQueue", {{"QueueName", name}, {"Attributes", attributes}});
  if (!created.ok()) return created.status();
  LiveQueue queue{JsonString(*created, "QueueUrl"), "", attributes};
  auto arn = aws.SqsSync("GetQueueAttributes", {{"QueueUrl", queue.url}, {"AttributeNames", {"QueueArn"}}});
  if (!arn.ok()) return arn.status();
  queue.arn = JsonString(JsonMember(*arn, "Attributes"), "QueueArn");
  live.Learn(queue.arn);
  live.queues[name] = std::move(queue);
  return Status::Ok();
}

std::vector<Step> Diff(const Topology& topology, const SqsTransportConfig& config, const Live& live, bool prune) {
  std::vector<Step> steps;
  std::set<std::string> wanted_topics, wanted_queues;

  for (const std::string& topic : topology.Topics()) {
    std::string name = SqsResourceName(config, topic);
    wanted_topics.insert(name);
    if (live.topics.contains(name)) continue;
    steps.push_back({{Action::kCreate, "topic", name, ""}, [name](AwsClient& aws, Live& live) {
                       auto created = aws.SnsSync("CreateTopic", {{"Name", name}});
                       if (!created.ok()) return created.status();
                       std::string arn = XmlText(created->result, "TopicArn");
                       live.Learn(arn);
                       live.topics[name] = arn;
                       return Status::Ok();
                     }});
  }

  for (const QueueSpec& spec : topology.queues) {
    std::string name = SqsResourceName(config, spec.name);
    std::string dlq = DeadLetterQueueName(config, spec.name);
    wanted_queues.insert(name);
    if (config.max_receives > 0) {
      wanted_queues.insert(dlq);
      std::map<std::string, std::string> dlq_attributes = {{"MessageRetentionPeriod", kDeadLetterRetention}};
      if (auto it = live.queues.find(dlq); it == live.queues.end()) {
        steps.push_back({{Action::kCreate, "queue", dlq, fmt::format("dead letters of {}", name)},
                         [dlq, dlq_attributes](AwsClient& aws, Live& live) {
                           return CreateQueue(aws, live, dlq, dlq_attributes);
                         }});
      } else {
        std::string detail;
        auto changed = Differences(it->second.attributes, dlq_attributes, &detail);
        if (!changed.empty())
          steps.push_back({{Action::kUpdate, "queue", dlq, detail}, [url = it->second.url, changed](AwsClient& aws, Live&) {
                             auto set = aws.SqsSync("SetQueueAttributes", {{"QueueUrl", url}, {"Attributes", changed}});
                             return set.ok() ? Status::Ok() : set.status();
                           }});
      }
    }
    if (auto it = live.queues.find(name); it == live.queues.end()) {
      std::string detail = fmt::format("visibility {} s", config.visibility_timeout.count());
      if (config.max_receives > 0) detail += fmt::format(", to {} after {} receives", dlq, config.max_receives);
      steps.push_back({{Action::kCreate, "queue", name, detail}, [&config, &spec, name](AwsClient& aws, Live& live) {
                         return CreateQueue(aws, live, name, DesiredQueueAttributes(config, spec, live));
                       }});
    } else {
      std::string detail;
      auto changed = Differences(it->second.attributes, DesiredQueueAttributes(config, spec, live), &detail);
      if (!changed.empty())
        steps.push_back({{Action::kUpdate, "queue", name, detail}, [&config, &spec, name](AwsClient& aws, Live& live) {
                           // Recomputed now: ARNs of things created by this apply are known.
                           auto attributes = DesiredQueueAttributes(config, spec, live);
                           auto set = aws.SqsSync("SetQueueAttributes",
                                                  {{"QueueUrl", live.queues[name].url}, {"Attributes", attributes}});
                           return set.ok() ? Status::Ok() : set.status();
                         }});
    }
  }

  // Subscriptions: one per (topic, queue), with the queue's filter policy.
  std::map<std::string, std::set<std::string>> wanted_endpoints;  // topic name -> queue ARNs
  for (const QueueSpec& spec : topology.queues) {
    std::string queue = SqsResourceName(config, spec.name);
    std::string filter_policy = spec.filter_policy.json() == "{}" ? "" : spec.filter_policy.json();
    std::map<std::string, std::string> attributes = {
        {"RawMessageDelivery", config.raw_message_delivery ? "true" : "false"}, {"FilterPolicy", filter_policy}};
    // The policies match message attributes (that is where Publish puts what they test); a
    // scope changed to MessageBody would match nothing and drop the queue's work silently.
    // AWS has no scope without a policy, so it is compared only where there is one.
    if (!filter_policy.empty()) attributes["FilterPolicyScope"] = "MessageAttributes";
    for (const std::string& topic_name : spec.topics) {
      std::string topic = SqsResourceName(config, topic_name);
      std::string label = fmt::format("{} -> {}", topic, queue);
      std::string queue_arn = live.Arn("sqs", queue);
      if (auto q = live.queues.find(queue); q != live.queues.end()) queue_arn = q->second.arn;
      wanted_endpoints[topic].insert(queue_arn);
      const LiveSubscription* existing = nullptr;
      if (auto subs = live.subscriptions.find(topic); subs != live.subscriptions.end() && !queue_arn.empty())
        for (const LiveSubscription& s : subs->second)
          if (s.endpoint == queue_arn) existing = &s;
      if (existing == nullptr) {
        std::string detail = fmt::format("filter {}, {}", attributes["FilterPolicy"].empty() ? "none" : attributes["FilterPolicy"],
                                         config.raw_message_delivery ? "raw delivery" : "SNS envelope");
        steps.push_back({{Action::kCreate, "subscription", label, detail},
                         [topic, queue, attributes](AwsClient& aws, Live& live) {
                           FormParams params = {{"TopicArn", live.topics[topic]},
                                                {"Protocol", "sqs"},
                                                {"Endpoint", live.queues[queue].arn},
                                                {"ReturnSubscriptionArn", "true"}};
                           int n = 0;
                           for (const auto& [key, value] : attributes) {
                             if (value.empty()) continue;
                             params.emplace_back(fmt::format("Attributes.entry.{}.key", ++n), key);
                             params.emplace_back(fmt::format("Attributes.entry.{}.value", n), value);
                           }
                           auto subscribed = aws.SnsSync("Subscribe", params);
                           return subscribed.ok() ? Status::Ok() : subscribed.status();
                         }});
        continue;
      }
      if (!existing->arn.starts_with("arn:")) continue;  // pending confirmation: nothing to compare yet
      std::map<std::string, std::string> live_attributes = existing->attributes;
      // What AWS means when it does not say (its defaults).
      if (!live_attributes.contains("RawMessageDelivery")) live_attributes["RawMessageDelivery"] = "false";
      if (!live_attributes.contains("FilterPolicyScope"))
        live_attributes["FilterPolicyScope"] = "MessageAttributes";
      std::string detail;
      auto changed = Differences(live_attributes, attributes, &detail);
      if (changed.empty()) continue;
      steps.push_back({{Action::kUpdate, "subscription", label, detail},
                       [arn = existing->arn, changed](AwsClient& aws, Live&) {
                         for (const auto& [key, value] : changed) {
                           auto set = aws.SnsSync("SetSubscriptionAttributes",
                                                  {{"SubscriptionArn", arn},
                                                   {"AttributeName", key},
                                                   {"AttributeValue", value.empty() ? "{}" : value}});
                           if (!set.ok()) return set.status();
                         }
                         return Status::Ok();
                       }});
    }
  }

  // What exists but the file does not name.
  auto extra = [&](std::string resource, std::string name, std::string detail,
                   std::function<Status(AwsClient&, Live&)> remove) {
    if (prune)
      steps.push_back({{Action::kDelete, std::move(resource), std::move(name), std::move(detail)}, std::move(remove)});
    else
      steps.push_back({{Action::kKeep, std::move(resource), std::move(name), std::move(detail)}, nullptr});
  };
  for (const auto& [topic, subscriptions] : live.subscriptions) {
    std::set<std::string> seen;
    for (const LiveSubscription& s : subscriptions) {
      bool wanted = wanted_endpoints[topic].contains(s.endpoint) && seen.insert(s.endpoint).second;
      if (wanted) continue;
      extra("subscription", fmt::format("{} -> {}", topic, LastSegment(s.endpoint, ':')), "not in the topology",
            [arn = s.arn](AwsClient& aws, Live&) {
              auto done = aws.SnsSync("Unsubscribe", {{"SubscriptionArn", arn}});
              return done.ok() ? Status::Ok() : done.status();
            });
    }
  }
  for (const auto& [name, queue] : live.queues) {
    if (wanted_queues.contains(name)) continue;
    std::string messages = queue.attributes.contains("ApproximateNumberOfMessages")
                               ? fmt::format("{} messages", queue.attributes.at("ApproximateNumberOfMessages"))
                               : "";
    extra("queue", name, "not in the topology" + (messages.empty() ? "" : "; holds " + messages),
          [url = queue.url](AwsClient& aws, Live&) {
            auto done = aws.SqsSync("DeleteQueue", {{"QueueUrl", url}});
            return done.ok() ? Status::Ok() : done.status();
          });
  }
  for (const auto& [name, arn] : live.topics) {
    if (wanted_topics.contains(name)) continue;
    extra("topic", name, "not in the topology", [arn = arn](AwsClient& aws, Live&) {
      auto done = aws.SnsSync("DeleteTopic", {{"TopicArn", arn}});
      return done.ok() ? Status::Ok() : done.status();
    });
  }
  return steps;
}

struct Session {
  std::unique_ptr<net::BeastHttpClient> http;
  std::unique_ptr<AwsClient> aws;
  SqsTransportConfig config;
};

core::Result<Session> Connect(const SqsTransportConfig& unresolved, const net::AwsCredentials& credentials) {
  auto config = ResolveSqsConfig(unresolved);
  if (!config.ok()) return config.status();
  Session session;
  session.config = std::move(config).value();
  session.http = std::make_unique<net::BeastHttpClient>(
      net::HttpClientConfig{.threads = 1, .max_connections_per_host = 8, .verify_tls = session.config.verify_tls});
  session.aws = std::make_unique<AwsClient>(
      AwsEndpoints{session.config.region, session.config.sns_endpoint, session.config.sqs_endpoint}, credentials,
      *session.http);
  return session;
}

core::Result<TopologyPlan> Run(const Topology& topology, const SqsTransportConfig& unresolved,
                               const net::AwsCredentials& credentials, bool prune, bool apply) {
  if (prune && unresolved.name_prefix.empty())
    return Status::InvalidArgument(
        "--prune needs transport.sqs.name_prefix: without a prefix every topic and queue in the account would "
        "count as this topology's");
  auto session = Connect(unresolved, credentials);
  if (!session.ok()) return session.status();
  const SqsTransportConfig& config = session->config;
  std::set<std::string> topics;
  for (const std::string& topic : topology.Topics()) topics.insert(SqsResourceName(config, topic));
  auto live = ReadLive(*session->aws, config, topics);
  if (!live.ok()) return live.status();

  TopologyPlan plan;
  plan.target = config.sns_endpoint == config.sqs_endpoint
                    ? fmt::format("{} ({})", config.sns_endpoint, config.region)
                    : fmt::format("{} and {} ({})", config.sns_endpoint, config.sqs_endpoint, config.region);
  if (!config.name_prefix.empty()) plan.target += fmt::format(", prefix '{}'", config.name_prefix);
  plan.topics = static_cast<int>(topics.size());
  for (const QueueSpec& spec : topology.queues) {
    plan.queues += config.max_receives > 0 ? 2 : 1;
    plan.subscriptions += static_cast<int>(spec.topics.size());
  }
  std::vector<Step> steps = Diff(topology, config, *live, prune);
  for (Step& step : steps) {
    if (apply && step.run) {
      if (Status status = step.run(*session->aws, *live); !status.ok())
        return status.WithContext(fmt::format(
            "{} {} {}", step.change.action == Action::kDelete ? "deleting" : "setting up", step.change.resource,
            step.change.name));
    }
    plan.changes.push_back(std::move(step.change));
  }
  return plan;
}

}  // namespace

bool TopologyPlan::NothingToDo() const {
  for (const TopologyChange& change : changes)
    if (change.action != Action::kKeep) return false;
  return true;
}

std::string TopologyPlan::Format() const {
  std::string out = fmt::format("SNS/SQS at {}: the topology names {} topics, {} queues and {} subscriptions.\n",
                                target, topics, queues, subscriptions);
  int creates = 0, updates = 0, deletes = 0, kept = 0;
  for (const TopologyChange& change : changes) {
    const char* mark = "+";
    switch (change.action) {
      case Action::kCreate:
        creates++;
        break;
      case Action::kUpdate:
        mark = "~";
        updates++;
        break;
      case Action::kDelete:
        mark = "-";
        deletes++;
        break;
      case Action::kKeep:
        mark = "?";
        kept++;
        break;
    }
    out += fmt::format("  {} {} {}{}\n", mark, change.resource, change.name,
                       change.detail.empty() ? "" : " (" + change.detail + ")");
  }
  if (NothingToDo())
    out += "Nothing to do: the account matches the topology.";
  else
    out += fmt::format("{} to create, {} to update, {} to delete.", creates, updates, deletes);
  if (kept > 0) out += fmt::format(" {} not in the topology (kept; --prune deletes them).", kept);
  return out + "\n";
}

core::Result<TopologyPlan> PlanSqsTopology(const Topology& topology, const SqsTransportConfig& config,
                                           const net::AwsCredentials& credentials, bool prune) {
  return Run(topology, config, credentials, prune, /*apply=*/false);
}

core::Result<TopologyPlan> ApplySqsTopology(const Topology& topology, const SqsTransportConfig& config,
                                            const net::AwsCredentials& credentials, bool prune) {
  return Run(topology, config, credentials, prune, /*apply=*/true);
}

}  // namespace pkgtrust::bus
