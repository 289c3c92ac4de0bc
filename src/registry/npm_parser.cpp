// npm packuments are read with nlohmann's SAX interface: the handler follows its path in
// the document and keeps only the facts, so no DOM of a multi-megabyte document exists.
#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <unordered_map>

#include "pkgtrust/core/json_limits.hpp"
#include "pkgtrust/core/time.hpp"
#include "pkgtrust/registry/parsers.hpp"

namespace pkgtrust::registry {
namespace {

using json = nlohmann::json;

constexpr std::size_t kMaxScriptBytes = 200;  // an install script's command, as kept

// The first `max` bytes of `text`, cut before a UTF-8 sequence rather than inside it.
std::string Prefix(const std::string& text, std::size_t max) {
  if (text.size() <= max) return text;
  while (max > 0 && (static_cast<unsigned char>(text[max]) & 0xC0) == 0x80) --max;
  return text.substr(0, max);
}

class PackumentHandler final : public nlohmann::json_sax<json> {
 public:
  explicit PackumentHandler(PackageFacts* facts) : facts_(facts) {}

  bool null() override { return true; }
  bool boolean(bool value) override {
    // "deprecated": false means not deprecated; true without a message still is.
    if (At({"versions", "*", "deprecated"}) && value && version_) version_->deprecated = "deprecated";
    return true;
  }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }

  bool string(string_t& value) override {
    std::size_t d = stack_.size();
    if (d == 1) {
      const std::string& k = stack_[0].key;
      if (k == "name")
        facts_->display_name = value;
      else if (k == "description")
        facts_->description = value;
      else if (k == "license")
        facts_->license = value;
      else if (k == "homepage")
        facts_->homepage = value;
      else if (k == "repository")
        facts_->repository_declared = value;
    } else if (d == 2) {
      const std::string& k0 = stack_[0].key;
      const std::string& k1 = stack_[1].key;
      if (k0 == "dist-tags" && k1 == "latest")
        facts_->latest_version = value;
      else if (k0 == "time")
        times_[k1] = value;
      else if (k0 == "repository" && k1 == "url")
        facts_->repository_declared = value;
      else if (k0 == "repository" && k1 == "directory")
        directory_ = value;
      else if (k0 == "license" && k1 == "type")
        facts_->license = value;
      else if (k0 == "maintainers" && stack_[1].array)
        facts_->maintainers.push_back(MaintainerName(value));
    } else if (d == 3) {
      if (stack_[0].key == "maintainers" && stack_[1].array && stack_[2].key == "name")
        facts_->maintainers.push_back(value);
      else if (stack_[0].key == "versions" && version_) {
        const std::string& k2 = stack_[2].key;
        if (k2 == "deprecated")
          version_->deprecated = value;
        else if (k2 == "repository")
          version_->repository = value;
        else if (k2 == "license")
          version_licenses_[version_->version] = value;
      }
    } else if (d == 4 && stack_[0].key == "versions" && version_) {
      const std::string& k2 = stack_[2].key;
      const std::string& k3 = stack_[3].key;
      if (k2 == "repository" && k3 == "url")
        version_->repository = value;
      else if (k2 == "scripts" && (k3 == "preinstall" || k3 == "install" || k3 == "postinstall"))
        version_->install_scripts.emplace_back(k3, Prefix(value, kMaxScriptBytes));
      else if (k2 == "_npmUser" && k3 == "name")
        version_->publisher = Prefix(value, 214);
    }
    return true;
  }

  bool start_object(std::size_t) override {
    std::size_t d = stack_.size();
    if (d == 2 && stack_[0].key == "versions") {
      facts_->versions.push_back({stack_[1].key});
      version_ = &facts_->versions.back();
    } else if (d == 2 && stack_[0].key == "time" && stack_[1].key == "unpublished") {
      facts_->unpublished = true;
    } else if (d == 4 && stack_[0].key == "versions" && stack_[2].key == "dist" &&
               stack_[3].key == "attestations" && version_) {
      version_->has_attestation = true;
    }
    stack_.push_back({false, {}});
    return true;
  }
  bool end_object() override {
    stack_.pop_back();
    if (stack_.size() == 2 && stack_[0].key == "versions") version_ = nullptr;
    return true;
  }
  bool start_array(std::size_t) override {
    stack_.push_back({true, {}});
    return true;
  }
  bool end_array() override {
    stack_.pop_back();
    return true;
  }
  bool key(string_t& value) override {
    stack_.back().key = value;
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
    error_ = fmt::format("invalid JSON at byte {}", position);
    return false;
  }

  // Applies what could only be joined at the end (times and versions come in any order).
  void Complete() {
    for (VersionFacts& v : facts_->versions) {
      auto t = times_.find(v.version);
      if (t != times_.end()) v.published = core::ParseTimestamp(t->second).value_or(0);
    }
    if (auto c = times_.find("created"); c != times_.end())
      facts_->created = core::ParseTimestamp(c->second).value_or(0);
    if (auto m = times_.find("modified"); m != times_.end())
      facts_->modified = core::ParseTimestamp(m->second).value_or(0);
    const VersionFacts* latest = facts_->FindVersion(facts_->latest_version);
    if (latest != nullptr) {
      if (facts_->repository_declared.empty()) facts_->repository_declared = latest->repository;
      if (facts_->license.empty()) {
        auto lic = version_licenses_.find(latest->version);
        if (lic != version_licenses_.end()) facts_->license = lic->second;
      }
    }
    if (!facts_->repository_declared.empty())
      facts_->repository = core::ParseRepositoryUrl(facts_->repository_declared, directory_);
    facts_->security_holder = facts_->latest_version.ends_with("-security") &&
                              (facts_->repository_declared == "npm/security-holder" ||
                               facts_->description == "security holding package");
  }

  const std::string& error() const { return error_; }

 private:
  struct Frame {
    bool array;
    std::string key;
  };
  // Whether the current value sits at this key path ("*" matches any key).
  bool At(std::initializer_list<const char*> path) const {
    if (stack_.size() != path.size()) return false;
    std::size_t i = 0;
    for (const char* p : path) {
      if (std::string_view(p) != "*" && stack_[i].key != p) return false;
      ++i;
    }
    return true;
  }
  static std::string MaintainerName(const std::string& text) {
    // Old packuments list maintainers as "name <email>".
    auto lt = text.find(" <");
    return lt == std::string::npos ? text : text.substr(0, lt);
  }

  PackageFacts* facts_;
  std::vector<Frame> stack_;
  VersionFacts* version_ = nullptr;  // the version object being read
  std::unordered_map<std::string, std::string> times_;
  std::unordered_map<std::string, std::string> version_licenses_;
  std::string directory_;
  std::string error_;
};

}  // namespace

core::Result<PackageFacts> ParseNpmPackument(std::string_view body, const core::PackageKey& key) {
  PackageFacts facts;
  facts.key = key;
  PackumentHandler handler(&facts);
  bool ok = json::sax_parse(body.begin(), body.end(), &handler, json::input_format_t::json, true);
  if (!ok)
    return core::Status::InvalidArgument(
        fmt::format("npm packument for {}: {}", key.name,
                    handler.error().empty() ? "not a JSON document" : handler.error()));
  if (facts.display_name.empty() && facts.versions.empty() && !facts.unpublished)
    return core::Status::InvalidArgument(
        fmt::format("npm packument for {}: no name and no versions", key.name));
  handler.Complete();
  Finish(facts);
  return facts;
}

core::Result<std::int64_t> ParseNpmDownloads(std::string_view body) {
  json j = core::JsonNestingWithin(body) ? json::parse(body, nullptr, false) : json(json::value_t::discarded);
  if (!j.is_object() || !j.contains("downloads") || !j["downloads"].is_number_integer())
    return core::Status::InvalidArgument("npm downloads answer has no integer \"downloads\"");
  return j["downloads"].get<std::int64_t>();
}

}  // namespace pkgtrust::registry
