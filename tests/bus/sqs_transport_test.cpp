// What only the sqs transport has: `topology plan|apply` against the emulator, SNS's
// envelope, visibility extension, and AWS's error answers (from a replay server that
// answers as AWS does).
#include "pkgtrust/bus/sqs_transport.hpp"

#include <catch2/catch.hpp>
#include <thread>

#include "app/config.hpp"
#include "bus/transport_under_test.hpp"
#include "pkgtrust/bus/sqs_topology.hpp"
#include "support/aws_account.hpp"
#include "support/replay_server.hpp"
#include "support/test_support.hpp"

using namespace pkgtrust;
using namespace std::chrono_literals;
using Action = bus::TopologyChange::Action;

namespace {

bus::Topology ShippedTopology() { return app::LoadTopologyFile(PKGTRUST_SOURCE_DIR "/config/topology.yaml"); }

bus::SqsTransportConfig Config() { return testing::EmulatorSqsConfig({.visibility_timeout = 30s, .max_receives = 5}, true); }

int Count(const bus::TopologyPlan& plan, Action action, const std::string& resource = "") {
  int n = 0;
  for (const auto& change : plan.changes) n += change.action == action && (resource.empty() || change.resource == resource);
  return n;
}

bus::Message Work(std::string body, const char* priority) {
  bus::Message message;
  message.body = std::move(body);
  message.attributes.SetString("priority", priority);
  message.attributes.SetString("package_type", "npm");
  return message;
}

std::vector<bus::Delivery> ReceiveFor(bus::Transport& transport, const std::string& queue, std::chrono::milliseconds span) {
  std::vector<bus::Delivery> out;
  auto deadline = std::chrono::steady_clock::now() + span;
  while (std::chrono::steady_clock::now() < deadline && out.empty()) {
    out = transport.Receive(queue, 10);
    const std::string queues[] = {queue};
    if (out.empty()) transport.WaitForMessages(queues, 100ms);
  }
  return out;
}

}  // namespace

TEST_CASE("topology apply creates everything once; then plan and apply find nothing to do", "[bus][sqs]") {
  bus::Topology topology = ShippedTopology();
  bus::SqsTransportConfig config = Config();
  auto credentials = testing::EmulatorCredentials();

  auto before = bus::PlanSqsTopology(topology, config, credentials, false);
  REQUIRE(before.ok());
  CHECK(Count(*before, Action::kCreate, "topic") == 3);
  CHECK(Count(*before, Action::kCreate, "queue") == 12);  // six queues and their dead-letter queues
  CHECK(Count(*before, Action::kCreate, "subscription") == 6);
  CHECK_FALSE(before->NothingToDo());

  auto applied = bus::ApplySqsTopology(topology, config, credentials, false);
  INFO((applied.ok() ? applied->Format() : applied.status().message()));
  REQUIRE(applied.ok());
  CHECK(Count(*applied, Action::kCreate) == 21);

  auto after = bus::PlanSqsTopology(topology, config, credentials, false);
  REQUIRE(after.ok());
  INFO(after->Format());
  CHECK(after->NothingToDo());
  CHECK(after->changes.empty());
  CHECK_THAT(after->Format(), Catch::Contains("Nothing to do"));

  auto again = bus::ApplySqsTopology(topology, config, credentials, false);
  REQUIRE(again.ok());
  CHECK(again->changes.empty());
}

TEST_CASE("plan notices a subscription whose filter policy scope was changed, and apply puts it back",
          "[bus][sqs]") {
  bus::Topology topology = ShippedTopology();
  bus::SqsTransportConfig config = Config();
  auto credentials = testing::EmulatorCredentials();
  REQUIRE(bus::ApplySqsTopology(topology, config, credentials, false).ok());
  // Someone switches a subscription to match the message body: its filter then matches
  // nothing pkgtrust publishes (the attributes it tests are message attributes).
  testing::AwsAccount account(config, credentials);
  std::string arn = account.SubscriptionArn(config.name_prefix + "parse_repo",
                                            config.name_prefix + "regular_parse_repository");
  account.SetSubscriptionAttribute(arn, "FilterPolicyScope", "MessageBody");

  auto plan = bus::PlanSqsTopology(topology, config, credentials, false);
  REQUIRE(plan.ok());
  INFO(plan->Format());
  CHECK_FALSE(plan->NothingToDo());
  REQUIRE(plan->changes.size() == 1);
  CHECK(plan->changes[0].action == Action::kUpdate);
  CHECK(plan->changes[0].name ==
        config.name_prefix + "parse_repo -> " + config.name_prefix + "regular_parse_repository");
  CHECK(plan->changes[0].detail == "FilterPolicyScope: MessageBody -> MessageAttributes");

  REQUIRE(bus::ApplySqsTopology(topology, config, credentials, false).ok());
  auto after = bus::PlanSqsTopology(topology, config, credentials, false);
  REQUIRE(after.ok());
  CHECK(after->changes.empty());
}

TEST_CASE("a missing subscription does not stop the start; Health names it until it exists again",
          "[bus][sqs]") {
  bus::Topology topology = ShippedTopology();
  bus::SqsTransportConfig config = Config();
  config.subscription_check_interval = std::chrono::seconds(1);
  auto credentials = testing::EmulatorCredentials();
  REQUIRE(bus::ApplySqsTopology(topology, config, credentials, false).ok());
  {
    auto whole = bus::SqsTransport::Create(topology, config, credentials);
    REQUIRE(whole.ok());
    CHECK((*whole)->Health().ok());
  }
  testing::AwsAccount account(config, credentials);
  account.Unsubscribe(account.SubscriptionArn(config.name_prefix + "score_package",
                                              config.name_prefix + "priority_score_package"));
  auto transport = bus::SqsTransport::Create(topology, config, credentials);
  REQUIRE(transport.ok());
  core::Status health = (*transport)->Health();
  CHECK(health.code() == core::StatusCode::kFailedPrecondition);
  CHECK(health.message() ==
        fmt::format("1 SNS subscription is missing ({0}score_package -> "
                    "{0}priority_score_package): messages published to that topic reach no "
                    "queue; create them with `pkgtrust topology apply`",
                    config.name_prefix));
  // apply creates it; the next check (every second here) sees it.
  REQUIRE(bus::ApplySqsTopology(topology, config, credentials, false).ok());
  CHECK(testing::WaitUntil([&] { return (*transport)->Health().ok(); }, 10s));
}

TEST_CASE("plan shows a changed filter policy and what the file no longer names; prune deletes it", "[bus][sqs]") {
  bus::Topology topology = ShippedTopology();
  bus::SqsTransportConfig config = Config();
  auto credentials = testing::EmulatorCredentials();
  REQUIRE(bus::ApplySqsTopology(topology, config, credentials, false).ok());

  // The file changes: regular scoring only for npm, and the regular repository queue is gone.
  bus::Topology changed = topology;
  for (auto& queue : changed.queues)
    if (queue.name == "regular_score_package")
      queue.filter_policy = *bus::FilterPolicy::Parse(R"({"priority":["2"],"package_type":["npm"]})");
  std::erase_if(changed.queues, [](const auto& q) { return q.name == "regular_parse_repository"; });

  auto plan = bus::PlanSqsTopology(changed, config, credentials, false);
  REQUIRE(plan.ok());
  INFO(plan->Format());
  CHECK(Count(*plan, Action::kUpdate, "subscription") == 1);
  CHECK(Count(*plan, Action::kKeep, "queue") == 2);  // the queue and its dead-letter queue
  CHECK(Count(*plan, Action::kKeep, "subscription") == 1);
  CHECK(Count(*plan, Action::kDelete) == 0);
  CHECK_THAT(plan->Format(), Catch::Contains("FilterPolicy") && Catch::Contains("--prune"));

  // Without prune, apply changes the policy and leaves the rest.
  REQUIRE(bus::ApplySqsTopology(changed, config, credentials, false).ok());
  auto kept = bus::PlanSqsTopology(changed, config, credentials, false);
  REQUIRE(kept.ok());
  CHECK(kept->NothingToDo());
  CHECK(Count(*kept, Action::kKeep) == 3);

  // The new policy routes: a regular pypi score message reaches no queue now.
  {
    auto transport = bus::SqsTransport::Create(changed, config, credentials);
    REQUIRE(transport.ok());
    bus::Message pypi = Work("pypi", "2");
    pypi.attributes.SetString("package_type", "pypi");
    REQUIRE((*transport)->Publish("score_package", pypi).ok());
    REQUIRE((*transport)->Publish("score_package", Work("npm", "2")).ok());
    auto got = ReceiveFor(**transport, "regular_score_package", 10s);
    REQUIRE(got.size() == 1);
    CHECK(got[0].message->body == "npm");
    (*transport)->Ack(got[0]);
    CHECK(ReceiveFor(**transport, "regular_score_package", 1500ms).empty());
  }

  auto pruned = bus::ApplySqsTopology(changed, config, credentials, true);
  REQUIRE(pruned.ok());
  CHECK(Count(*pruned, Action::kDelete) == 3);
  auto clean = bus::PlanSqsTopology(changed, config, credentials, true);
  REQUIRE(clean.ok());
  CHECK(clean->changes.empty());

  // Prune without a prefix would take the whole account for ours: refused.
  bus::SqsTransportConfig no_prefix = config;
  no_prefix.name_prefix.clear();
  auto refused = bus::PlanSqsTopology(changed, no_prefix, credentials, true);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.status().message(), Catch::Contains("name_prefix"));
}

TEST_CASE("without raw delivery the SNS envelope is unwrapped, attributes and all", "[bus][sqs]") {
  bus::Topology topology = ShippedTopology();
  bus::SqsTransportConfig config = Config();
  config.raw_message_delivery = false;
  testing::SqsUnderTest t(topology, config);
  bus::Message message = Work(R"({"ecosystem":"npm","name":"left-pad","generation":3})", "1");
  message.attributes.SetString("repo_engine", "github");
  REQUIRE(t.transport().Publish("parse_repo", message).ok());
  auto got = ReceiveFor(t.transport(), "priority_parse_repository", 10s);
  REQUIRE(got.size() == 1);
  CHECK(got[0].message->body == message.body);
  REQUIRE(got[0].message->attributes.Find("repo_engine") != nullptr);
  CHECK(got[0].message->attributes.Find("repo_engine")->value == "github");
  CHECK(got[0].message->attributes.Find("priority")->value == "1");
}

TEST_CASE("a message being worked on keeps its visibility, up to max_extension", "[bus][sqs]") {
  bus::Topology topology = ShippedTopology();
  bus::SqsTransportConfig config = Config();
  config.visibility_timeout = 2s;
  config.max_extension = 60s;
  bus::SqsTransportConfig other_config = config;
  other_config.prefetch = 1;
  {
    testing::SqsUnderTest worker(topology, config);  // applies the topology, then receives
    auto other = bus::SqsTransport::Create(topology, other_config, testing::EmulatorCredentials());
    REQUIRE(other.ok());
    REQUIRE(worker.transport().Publish("score_package", Work("slow", "2")).ok());
    auto got = ReceiveFor(worker.transport(), "regular_score_package", 10s);
    REQUIRE(got.size() == 1);
    // Three visibility timeouts pass while the handler works; the other process never sees it.
    CHECK(ReceiveFor(**other, "regular_score_package", 6s).empty());
    REQUIRE(worker.transport().Ack(got[0]).ok());
    worker.Settle();
    CHECK(ReceiveFor(**other, "regular_score_package", 3s).empty());
  }  // neither polls the queue any more

  // A handler that hangs: after max_extension the message is let go and delivered again.
  bus::SqsTransportConfig short_config = config;
  short_config.max_extension = 3s;
  auto hanging = bus::SqsTransport::Create(topology, short_config, testing::EmulatorCredentials());
  REQUIRE(hanging.ok());
  REQUIRE((*hanging)->Publish("score_package", Work("hung", "2")).ok());
  auto held = ReceiveFor(**hanging, "regular_score_package", 10s);
  REQUIRE(held.size() == 1);
  // Nobody acks it; after 3 s the extension stops, 2 s later the message is visible again.
  auto again = ReceiveFor(**hanging, "regular_score_package", 20s);
  REQUIRE(again.size() == 1);
  CHECK(again[0].message->body == "hung");
  CHECK(again[0].receive_count >= 2);
  CHECK(again[0].receipt != held[0].receipt);
  (*hanging)->Ack(again[0]);
}

TEST_CASE("the sqs transport names a missing topic or queue and how to create it", "[bus][sqs]") {
  bus::Topology topology = ShippedTopology();
  bus::SqsTransportConfig config = Config();
  auto missing = bus::SqsTransport::Create(topology, config, testing::EmulatorCredentials());
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == core::StatusCode::kNotFound);
  CHECK_THAT(missing.status().message(),
             Catch::Contains(config.name_prefix + "parse_registry") && Catch::Contains("pkgtrust topology apply"));

  bus::SqsTransportConfig no_region = config;
  no_region.region.clear();
  ::unsetenv("AWS_REGION");
  ::unsetenv("AWS_DEFAULT_REGION");
  auto unresolved = bus::SqsTransport::Create(topology, no_region, testing::EmulatorCredentials());
  REQUIRE_FALSE(unresolved.ok());
  CHECK_THAT(unresolved.status().message(), Catch::Contains("AWS_REGION"));
}

TEST_CASE("AWS's error answers: throttling is retried, the others are named", "[bus][sqs]") {
  testing::ReplayServer aws;
  bus::Topology topology;
  topology.version = "1";
  topology.queues.push_back({"q", {"t"}, {}});
  bus::SqsTransportConfig config;
  config.region = "us-east-1";
  config.sns_endpoint = config.sqs_endpoint = aws.BaseUrl();
  config.max_receives = 0;
  auto sns_xml = [](const std::string& action, const std::string& result) {
    return fmt::format(R"(<{0}Response xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><{0}Result>{1}</{0}Result>)"
                       R"(<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></{0}Response>)",
                       action, result);
  };
  auto sns_error = [](int status, const std::string& code, const std::string& message) {
    return testing::ReplayResponse{
        status, {{"Content-Type", "text/xml"}},
        fmt::format(R"(<ErrorResponse><Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error>)"
                    R"(<RequestId>r</RequestId></ErrorResponse>)",
                    code, message)};
  };
  // The queue's ARN and its subscription, as the start-up check reads them.
  const testing::ReplayResponse queue_arn{
      200, {}, R"({"Attributes":{"QueueArn":"arn:aws:sqs:us-east-1:000000000000:q"}})"};
  const testing::ReplayResponse subscribed{
      200,
      {},
      sns_xml("ListSubscriptionsByTopic",
              "<Subscriptions><member><Protocol>sqs</Protocol><Endpoint>arn:aws:sqs:us-east-1:000000000000:q"
              "</Endpoint><SubscriptionArn>arn:aws:sns:us-east-1:000000000000:t:1</SubscriptionArn></member>"
              "</Subscriptions>")};
  // All of SNS and SQS is POST /: the answers come in the order the transport asks.
  aws.Add(
      "POST", "/",
      {sns_error(400, "Throttling", "Rate exceeded"),
       {200,
        {},
        sns_xml(
            "ListTopics",
            "<Topics><member><TopicArn>arn:aws:sns:us-east-1:000000000000:t</TopicArn></member></Topics>")},
       {200, {}, R"({"QueueUrl":"http://127.0.0.1/000000000000/q"})"},
       queue_arn,
       subscribed,
       sns_error(403, "ExpiredToken", "The security token included in the request is expired")});
  auto transport = bus::SqsTransport::Create(topology, config, testing::EmulatorCredentials());
  INFO(transport.status().message());
  REQUIRE(transport.ok());  // after one throttled ListTopics

  auto expired = (*transport)->Publish("t", Work("x", "1"));
  CHECK(expired.code() == core::StatusCode::kFailedPrecondition);
  CHECK_THAT(expired.message(), Catch::Contains("ExpiredToken") && Catch::Contains("expired") &&
                                    Catch::Contains("AWS_SESSION_TOKEN"));

  int before = aws.TotalRequests();
  auto too_big = (*transport)->Publish("t", Work(std::string(300 * 1024, 'x'), "1"));
  CHECK(too_big.code() == core::StatusCode::kInvalidArgument);
  CHECK_THAT(too_big.message(), Catch::Contains("307200 bytes") || Catch::Contains("bytes, more than"));
  CHECK(aws.TotalRequests() == before);  // refused before anything was sent
  transport->reset();

  aws.Add("POST", "/",
          {{200, {}, sns_xml("ListTopics", "<Topics><member><TopicArn>arn:aws:sns:us-east-1:000000000000:t</TopicArn></member></Topics>")},
           {400,
            {{"x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender"}},
            R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."})"}});
  auto no_queue = bus::SqsTransport::Create(topology, config, testing::EmulatorCredentials());
  REQUIRE_FALSE(no_queue.ok());
  CHECK(no_queue.status().code() == core::StatusCode::kNotFound);
  CHECK_THAT(no_queue.status().message(), Catch::Contains("queue 'q' does not exist") &&
                                              Catch::Contains("pkgtrust topology apply"));

  // An answer with the wrong types where messages should be: skipped or read as empty, never a crash.
  aws.Add(
      "POST", "/",
      {{200,
        {},
        sns_xml(
            "ListTopics",
            "<Topics><member><TopicArn>arn:aws:sns:us-east-1:000000000000:t</TopicArn></member></Topics>")},
       {200, {}, R"({"QueueUrl":"http://127.0.0.1/000000000000/q"})"},
       queue_arn,
       subscribed,
       {200,
        {},
        R"({"Messages":[1,"x",{"MessageId":5,"ReceiptHandle":"r1","Body":7,"MessageAttributes":{"a":3},"Attributes":[]}]})"}});
  {
    auto odd = bus::SqsTransport::Create(topology, config, testing::EmulatorCredentials());
    REQUIRE(odd.ok());
    auto got = ReceiveFor(**odd, "q", 5s);
    REQUIRE_FALSE(got.empty());
    CHECK(got[0].receipt == "r1");
    CHECK(got[0].message->body.empty());
    CHECK(got[0].receive_count == 1);
  }

  aws.Add("POST", "/", {{200, {}, "<html>a proxy's error page</html>"}});
  auto garbage = bus::SqsTransport::Create(topology, config, testing::EmulatorCredentials());
  REQUIRE_FALSE(garbage.ok());
  CHECK_THAT(garbage.status().message(), Catch::Contains("ListTopics") && Catch::Contains("not the XML"));
}
