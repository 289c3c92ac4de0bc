// GitHub's REST answers on the adapter's real path: the repository, contributors, tags,
// releases, commit statistics and the manifest, each answered by one part of the input
// (its first byte picks the status), through an HTTP client that replays them.
#include "fuzz_support.hpp"
#include "pkgtrust/github/github_client.hpp"

using namespace pkgtrust;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static constexpr int kStatuses[] = {200, 200, 200, 200, 202, 301, 304, 403, 404, 500};
  fuzz::ScriptedHttpClient http;
  for (std::string_view part : fuzz::SplitParts(fuzz::AsText(data, size))) {
    int status = part.empty() ? 200 : kStatuses[static_cast<unsigned char>(part[0]) % 10];
    net::Headers headers = {{"etag", "\"e1\""}, {"link", "<https://api.github.com/x?page=7>; rel=\"last\""}};
    if (status == 403) headers.emplace_back("x-ratelimit-remaining", "0");
    if (status == 301) headers.emplace_back("location", "https://api.github.com/repositories/1");
    http.Add(status, std::string(part.empty() ? part : part.substr(1)), std::move(headers));
  }
  github::GitHubOptions options;
  options.base_url = "https://api.github.com";
  options.token = "fuzz";
  options.max_attempts = 1;
  github::GitHubClient client(http, options);
  client.Fetch(
      {"github.com", "owner", "repo", ""}, nullptr,
      [](github::GitHubResult result) {
        if (result.ok()) (void)github::RepositoryFacts::FromJson(result->ToJson());
      },
      false, core::PackageKey{core::Ecosystem::kNpm, "repo"});
  return 0;
}
