// An upstream for tests that run many packages through `pkgtrust serve`: left-pad's
// recorded packument under every name with the prefix (renamed), and its repository.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "support/replay_server.hpp"
#include "support/test_support.hpp"

namespace pkgtrust::testing {

// Answers GET /<prefix>... with the packument and GET /repos/stevemao/left-pad.
inline void ServeLeftPadUnderEveryName(ReplayServer& upstream, const std::string& prefix) {
  nlohmann::json packument = nlohmann::json::parse(ReadText(FixturePath("registry/npm/left-pad.json")));
  packument["repository"] = {{"type", "git"}, {"url", "git+https://github.com/stevemao/left-pad.git"}};
  upstream.Add("GET", "/repos/stevemao/left-pad",
               ReplayResponse{200, {}, R"({"full_name":"stevemao/left-pad","stargazers_count":1200,
                 "forks_count":300,"open_issues_count":10,"archived":false,"fork":false,
                 "created_at":"2014-03-01T00:00:00Z","pushed_at":"2018-05-01T00:00:00Z",
                 "default_branch":"master","license":{"spdx_id":"WTFPL"}})"});
  upstream.SetGenerator(
      [packument, path = "/" + prefix](const std::string& method,
                                       const std::string& target) -> std::optional<ReplayResponse> {
        if (method != "GET" || !target.starts_with(path)) return std::nullopt;
        nlohmann::json doc = packument;
        doc["name"] = target.substr(1);
        return ReplayResponse{200, {}, doc.dump()};
      });
}

}  // namespace pkgtrust::testing
