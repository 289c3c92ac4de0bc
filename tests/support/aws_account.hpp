// The emulator's account as an operator would change it by hand (the console, the AWS
// CLI): for tests that check what pkgtrust notices when someone else edits a topology.
#pragma once

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <string>

#include "bus/aws_client.hpp"
#include "pkgtrust/bus/sqs_transport.hpp"
#include "pkgtrust/net/http_client.hpp"

namespace pkgtrust::testing {

class AwsAccount {
 public:
  AwsAccount(const bus::SqsTransportConfig& config, net::AwsCredentials credentials)
      : http_(net::HttpClientConfig{.threads = 1}),
        aws_({config.region, config.sns_endpoint, config.sqs_endpoint}, std::move(credentials), http_) {}

  // The ARN of the subscription of topic `topic` (its AWS name) to the queue named `queue`.
  std::string SubscriptionArn(const std::string& topic, const std::string& queue) {
    auto topics = bus::ListTopicArns(aws_);
    REQUIRE(topics.ok());
    REQUIRE(topics->contains(topic));
    auto listed = aws_.SnsSync("ListSubscriptionsByTopic", {{"TopicArn", topics->at(topic)}});
    REQUIRE(listed.ok());
    for (pugi::xml_node member : listed->result.child("Subscriptions").children("member"))
      if (bus::XmlText(member, "Endpoint").ends_with(":" + queue))
        return bus::XmlText(member, "SubscriptionArn");
    FAIL(fmt::format("no subscription {} -> {}", topic, queue));
    return {};
  }
  void SetSubscriptionAttribute(const std::string& arn, const std::string& name, const std::string& value) {
    auto set = aws_.SnsSync("SetSubscriptionAttributes",
                            {{"SubscriptionArn", arn}, {"AttributeName", name}, {"AttributeValue", value}});
    REQUIRE(set.ok());
  }
  void Unsubscribe(const std::string& arn) {
    REQUIRE(aws_.SnsSync("Unsubscribe", {{"SubscriptionArn", arn}}).ok());
  }
  void CreateQueue(const std::string& name) {
    REQUIRE(aws_.SqsSync("CreateQueue", {{"QueueName", name}}).ok());
  }

 private:
  net::BeastHttpClient http_;
  bus::AwsClient aws_;
};

}  // namespace pkgtrust::testing
