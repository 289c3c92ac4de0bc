// Source repository references: the many ways packages declare their repository
// ("git+https://github.com/o/r.git", "git@github.com:o/r", "github:o/r", npm's "o/r",
// "scm:git:ssh://git@github.com/o/r", ".../tree/main/packages/x" for monorepos, Go module
// paths) normalized to host, owner, name and an optional subdirectory.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pkgtrust::core {

struct RepositoryRef {
  std::string host;          // lower case, without "www.": "github.com"
  std::string owner;         // as declared (GitHub compares case-insensitively)
  std::string name;          // without ".git"
  std::string subdirectory;  // "packages/core" for a package inside a monorepo; may be empty

  bool IsGitHub() const { return host == "github.com"; }
  std::string Url() const;  // "https://github.com/owner/name"
  friend bool operator==(const RepositoryRef&, const RepositoryRef&) = default;
};

// nullopt when the text names no recognizable host/owner/name. `directory` is npm's
// repository.directory, used when the URL itself has no subdirectory.
std::optional<RepositoryRef> ParseRepositoryUrl(std::string_view text, std::string_view directory = {});
// For Go: "github.com/o/r/sub/pkg" -> github.com, o, r, "sub/pkg"; a trailing major
// version element ("/v2") is not a subdirectory.
std::optional<RepositoryRef> RepositoryFromGoModule(std::string_view module_path);

}  // namespace pkgtrust::core
