// .pkgtrust.yaml: what fails a check, read with yaml-cpp. Every mistake names the file, the
// line and the key, since the file is edited by hand and read in CI.
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cstdlib>

#include "pkgtrust/check/check.hpp"
#include "pkgtrust/core/purl.hpp"
#include "pkgtrust/core/time.hpp"

namespace pkgtrust::check {

namespace {

class PolicyReader {
 public:
  explicit PolicyReader(std::string_view path) : path_(path) {}

  core::Status Error(const YAML::Node& node, std::string_view what) const {
    return core::Status::InvalidArgument(fmt::format("{}:{}: {}", path_, node.Mark().line + 1, what));
  }

  core::Status ReadConcerns(const YAML::Node& node, std::string_view key, std::vector<Concern>* out) const {
    if (!node.IsSequence())
      return Error(node, fmt::format("{} must be a list such as [malicious, typosquat]", key));
    out->clear();
    for (const YAML::Node& item : node) {
      auto concern = item.IsScalar() ? ConcernFromName(item.Scalar()) : std::nullopt;
      if (!concern) {
        std::vector<std::string_view> names;
        for (Concern c : kAllConcerns) names.push_back(ConcernName(c));
        return Error(item, fmt::format("{}: '{}' is not one of {}", key,
                                       item.IsScalar() ? item.Scalar() : "?", fmt::join(names, ", ")));
      }
      out->push_back(*concern);
    }
    return core::Status::Ok();
  }

  core::Status ReadIgnore(const YAML::Node& node, Policy* policy) const {
    if (!node.IsSequence()) return Error(node, "ignore must be a list of {package, reason, expires}");
    for (const YAML::Node& item : node) {
      if (!item.IsMap())
        return Error(item, "an ignore entry must be a mapping with package, reason and expires");
      IgnoreEntry entry;
      entry.line = item.Mark().line + 1;
      for (const auto& member : item) {
        std::string key = member.first.Scalar();
        const YAML::Node& value = member.second;
        if (key == "concerns") {
          if (auto s = ReadConcerns(value, "ignore.concerns", &entry.concerns); !s.ok()) return s;
          continue;
        }
        if (!value.IsScalar()) return Error(value, fmt::format("ignore.{} must be text", key));
        if (key == "package")
          entry.package = value.Scalar();
        else if (key == "reason")
          entry.reason = value.Scalar();
        else if (key == "expires")
          entry.expires = value.Scalar();
        else
          return Error(member.first,
                       fmt::format("unknown key ignore.{} (known: package, reason, expires, concerns)", key));
      }
      if (entry.package.empty())
        return Error(item, "an ignore entry needs `package` (a purl, with or without @version)");
      auto purl = core::ParsePurl(entry.package);
      if (!purl.ok()) return Error(item, fmt::format("ignore.package: {}", purl.status().message()));
      entry.package = CanonicalPurl(*purl, !purl->version.empty());  // as the verdicts compare it
      if (entry.reason.empty())
        return Error(item, fmt::format("the ignore entry for {} needs a `reason`", entry.package));
      if (entry.expires.size() != 10 || !core::IsRfc3339Timestamp(entry.expires + "T00:00:00Z"))
        return Error(item, fmt::format("the ignore entry for {} needs `expires` as a date, YYYY-MM-DD",
                                       entry.package));
      policy->ignore.push_back(std::move(entry));
    }
    return core::Status::Ok();
  }

  core::Result<Policy> Read(std::string_view text) const {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      return core::Status::InvalidArgument(
          fmt::format("{}:{}: not valid YAML: {}", path_, e.mark.line + 1, e.msg));
    }
    Policy policy;
    policy.source = path_;
    if (root.IsNull()) return policy;
    if (!root.IsMap())
      return Error(root, "expected a mapping with fail_on, min_score, too_new_hours, ignore");
    for (const auto& member : root) {
      std::string key = member.first.Scalar();
      const YAML::Node& value = member.second;
      core::Status status;
      if (key == "fail_on") {
        status = ReadConcerns(value, key, &policy.fail_on);
      } else if (key == "min_score" || key == "too_new_hours") {
        if (auto set = SetPolicyOption(policy, key, value.IsScalar() ? value.Scalar() : "", key); !set.ok())
          return Error(value, set.message());
      } else if (key == "ignore") {
        status = ReadIgnore(value, &policy);
      } else {
        return Error(member.first,
                     fmt::format("unknown key '{}' (known: fail_on, min_score, too_new_hours, ignore)", key));
      }
      if (!status.ok()) return status;
    }
    return policy;
  }

 private:
  std::string path_;
};

}  // namespace

core::Status SetPolicyOption(Policy& policy, std::string_view name, std::string_view value,
                             std::string_view spelled) {
  std::string text(value);
  char* end = nullptr;
  if (name == "fail_on") {
    auto concerns = ParseConcernList(value);
    if (!concerns.ok())
      return core::Status::InvalidArgument(fmt::format("{}: {}", spelled, concerns.status().message()));
    policy.fail_on = *concerns;
  } else if (name == "min_score") {
    double score = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !(score >= 0 && score <= 10))
      return core::Status::InvalidArgument(fmt::format("{} must be a number from 0 to 10", spelled));
    policy.min_score = score;
  } else if (name == "too_new_hours") {
    long hours = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || hours < 0 || hours > 8760)
      return core::Status::InvalidArgument(fmt::format("{} must be a whole number from 0 to 8760", spelled));
    policy.too_new_hours = static_cast<int>(hours);
  } else {
    return core::Status::InvalidArgument(fmt::format("{} is not a policy setting", spelled));
  }
  return core::Status::Ok();
}

core::Result<Policy> ParsePolicy(std::string_view yaml, std::string_view path) {
  try {
    return PolicyReader(path).Read(yaml);
  } catch (const YAML::Exception& e) {  // a scalar read as a map, and the like
    return core::Status::InvalidArgument(fmt::format("{}:{}: {}", path, e.mark.line + 1, e.msg));
  }
}

}  // namespace pkgtrust::check
