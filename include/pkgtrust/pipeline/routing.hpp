// How a package's state maps to bus messages: the topic and attributes of the work
// message for each in-flight state, and the JSON body every stage message carries.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pkgtrust/bus/transport.hpp"
#include "pkgtrust/core/ecosystem.hpp"
#include "pkgtrust/core/package_state.hpp"
#include "pkgtrust/store/store.hpp"

namespace pkgtrust::pipeline {

inline constexpr std::string_view kTopicParseRegistry = "parse_registry";
inline constexpr std::string_view kTopicParseRepo = "parse_repo";
inline constexpr std::string_view kTopicScorePackage = "score_package";

// Body: {"ecosystem":"npm","name":"left-pad","generation":3,"version":"1.3.0","request_id":"..."}
struct WorkMessage {
  core::PackageKey key;
  std::int64_t generation = 0;
  std::string version;
  std::string request_id;
};

std::string EncodeWorkMessage(const WorkMessage& message);
// Validates everything (ecosystem known, name normalized, generation positive).
core::Result<WorkMessage> DecodeWorkMessage(std::string_view body);

// The topic a package in `state` waits on; empty for finished states.
std::string_view TopicForState(core::PackageState state);
bus::Message BuildWorkMessage(const store::PackageRecord& record, std::string_view request_id);
// Publishes the work message for the record's current (in-flight) state.
core::Status PublishWork(bus::Transport& transport, const store::PackageRecord& record,
                         std::string_view request_id);

}  // namespace pkgtrust::pipeline
