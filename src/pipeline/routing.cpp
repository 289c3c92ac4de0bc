#include "pkgtrust/pipeline/routing.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "pkgtrust/core/json_limits.hpp"
#include "pkgtrust/core/package_name.hpp"

namespace pkgtrust::pipeline {

using core::PackageState;
using json = nlohmann::json;

std::string EncodeWorkMessage(const WorkMessage& message) {
  json body = {{"ecosystem", core::EcosystemName(message.key.ecosystem)},
               {"name", message.key.name},
               {"generation", message.generation}};
  if (!message.version.empty()) body["version"] = message.version;
  if (!message.request_id.empty()) body["request_id"] = message.request_id;
  return body.dump();
}

core::Result<WorkMessage> DecodeWorkMessage(std::string_view text) {
  if (!core::JsonNestingWithin(text))
    return core::Status::InvalidArgument("work message body nests too deep");
  json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) return core::Status::InvalidArgument("work message body is not a JSON object");
  auto eco = body.find("ecosystem");
  auto name = body.find("name");
  auto gen = body.find("generation");
  if (eco == body.end() || !eco->is_string() || name == body.end() || !name->is_string() ||
      gen == body.end() || !gen->is_number_integer() || gen->get<std::int64_t>() <= 0)
    return core::Status::InvalidArgument("work message needs ecosystem, name and a positive generation");
  auto ecosystem = core::ParseEcosystemOrError(eco->get<std::string>());
  if (!ecosystem.ok()) return ecosystem.status();
  auto key = core::MakePackageKey(*ecosystem, name->get<std::string>());
  if (!key.ok()) return key.status();
  WorkMessage message{std::move(key).value(), gen->get<std::int64_t>()};
  if (auto v = body.find("version"); v != body.end() && v->is_string())
    message.version = v->get<std::string>();
  if (auto r = body.find("request_id"); r != body.end() && r->is_string())
    message.request_id = r->get<std::string>();
  return message;
}

std::string_view TopicForState(PackageState state) {
  switch (state) {
    case PackageState::kPendingRegistry:
      return kTopicParseRegistry;
    case PackageState::kPendingRepository:
      return kTopicParseRepo;
    case PackageState::kPendingScore:
      return kTopicScorePackage;
    default:
      return {};
  }
}

bus::Message BuildWorkMessage(const store::PackageRecord& record, std::string_view request_id) {
  bus::Message message;
  message.attributes.SetString("priority", std::string(core::PriorityAttribute(record.priority)));
  message.attributes.SetString("package_type", std::string(core::EcosystemName(record.key.ecosystem)));
  if (record.state == PackageState::kPendingRepository) message.attributes.SetString("repo_engine", "github");
  message.body =
      EncodeWorkMessage({record.key, record.generation, record.requested_version, std::string(request_id)});
  return message;
}

core::Status PublishWork(bus::Transport& transport, const store::PackageRecord& record,
                         std::string_view request_id) {
  std::string_view topic = TopicForState(record.state);
  if (topic.empty())
    return core::Status::FailedPrecondition(fmt::format("{} is {}: no work to publish", record.key.ToString(),
                                                        core::PackageStateName(record.state)));
  return transport.Publish(topic, BuildWorkMessage(record, request_id));
}

}  // namespace pkgtrust::pipeline
