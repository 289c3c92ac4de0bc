// AWS answers and messages: an SNS answer (XML) and an SQS answer (JSON) on the client's
// real path, each ReceiveMessage message decoded (SNS envelope included), and the work
// message inside decoded as a stage would.
#include <nlohmann/json.hpp>

#include "bus/aws_client.hpp"
#include "fuzz_support.hpp"
#include "pkgtrust/bus/sqs_transport.hpp"
#include "pkgtrust/pipeline/routing.hpp"

using namespace pkgtrust;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static constexpr int kStatuses[] = {200, 200, 200, 400, 403, 404, 500, 503};
  auto parts = fuzz::SplitParts(fuzz::AsText(data, size));
  fuzz::ScriptedHttpClient http;
  for (std::string_view part : parts)
    http.Add(part.empty() ? 200 : kStatuses[static_cast<unsigned char>(part[0]) % 8],
             std::string(part.empty() ? part : part.substr(1)));
  bus::AwsClient aws({"us-east-1", "http://127.0.0.1:1", "http://127.0.0.1:1"}, {"AKID", "SECRET", ""}, http);
  aws.Sns("Publish", {{"TopicArn", "arn:aws:sns:us-east-1:0:t"}, {"Message", "m"}},
          [](core::Result<bus::SnsAnswer> answer) {
            if (answer.ok()) (void)bus::XmlText(answer->result, "MessageId");
          });
  aws.Sqs("ReceiveMessage", {{"QueueUrl", "http://127.0.0.1:1/q"}}, [](core::Result<nlohmann::json> answer) {
    if (!answer.ok()) return;
    const nlohmann::json& messages = bus::JsonMember(*answer, "Messages");
    if (!messages.is_array()) return;
    for (const auto& m : messages) {
      auto delivery =
          bus::DecodeSqsMessage("q", m.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      if (delivery.ok()) (void)pipeline::DecodeWorkMessage(delivery->message->body);
    }
  });
  if (!parts.empty()) {
    auto direct = bus::DecodeSqsMessage("q", parts.back());
    if (direct.ok()) (void)pipeline::DecodeWorkMessage(direct->message->body);
    (void)pipeline::DecodeWorkMessage(parts.back());
  }
  return 0;
}
