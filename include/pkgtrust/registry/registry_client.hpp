// The registry stage's upstream side: fetches a package from its registry with the APIs
// the public services have, and returns its facts.
//   npm    GET {npm}/<name> (packument) and GET {npm_downloads}/downloads/point/last-month/<name>
//   pypi   GET {pypi}/pypi/<name>/json
//   crates GET {crates}/api/v1/crates/<name> and .../owners (a descriptive User-Agent, as crates.io asks)
//   maven  GET {maven}/<group path>/<artifact>/maven-metadata.xml, then the latest POM and its parents
//   go     GET {go}/<module>/@v/list and /@latest, the latest .mod (retractions), and .info of
//          the most recent versions (publish times)
// Adapters never touch the database; the stage stores what they return.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pkgtrust/core/cpu_work.hpp"
#include "pkgtrust/net/http_client.hpp"
#include "pkgtrust/registry/package_facts.hpp"

namespace pkgtrust::registry {

struct RegistryEndpoints {
  std::string npm = "https://registry.npmjs.org";
  std::string npm_downloads = "https://api.npmjs.org";
  std::string pypi = "https://pypi.org";
  std::string crates = "https://crates.io";
  std::string maven = "https://repo1.maven.org/maven2";
  std::string go = "https://proxy.golang.org";
};

struct RegistryOptions {
  std::chrono::milliseconds timeout{20'000};
  std::size_t max_body_bytes = 128u << 20;  // the largest npm packuments are tens of MB
  int max_attempts = 3;
  int go_version_infos = 20;      // .info requests for the most recent Go versions
  int maven_parent_depth = 6;     // POM parents walked for <scm> and <licenses>
  core::RunCpuWork run_cpu_work;  // where answers are parsed; empty: on the HTTP thread
};

// The result: facts, or nullopt when the registry has no such package. Errors say what
// failed; ResourceExhausted (a body over the limit) will not get better on retry.
using RegistryResult = core::Result<std::optional<PackageFacts>>;

// Safe for concurrent use; `done` runs where options.run_cpu_work puts it (else on an
// HTTP client thread).
class RegistryClient {
 public:
  RegistryClient(net::HttpClient& http, RegistryEndpoints endpoints, RegistryOptions options = {});
  // `urgent`: a user is waiting; its requests go first where connections are scarce.
  void Fetch(const core::PackageKey& key, std::function<void(RegistryResult)> done, bool urgent = false);

 private:
  using Responses = std::vector<core::Result<net::HttpResponse>>;
  // Runs requests in parallel and calls `done` once with every result, in order, through
  // options_.run_cpu_work.
  void FetchAll(std::vector<net::HttpRequest> requests, std::function<void(Responses)> done);
  net::HttpRequest Get(std::string url, bool urgent) const;
  void FetchNpm(const core::PackageKey& key, bool urgent, std::function<void(RegistryResult)> done);
  void FetchPypi(const core::PackageKey& key, bool urgent, std::function<void(RegistryResult)> done);
  void FetchCrates(const core::PackageKey& key, bool urgent, std::function<void(RegistryResult)> done);
  void FetchMaven(const core::PackageKey& key, bool urgent, std::function<void(RegistryResult)> done);
  void FetchGo(const core::PackageKey& key, bool urgent, std::function<void(RegistryResult)> done);

  net::HttpClient& http_;
  RegistryEndpoints endpoints_;
  RegistryOptions options_;
};

// Go proxy path escaping: upper-case letters become '!' + lower case ("!burnt!sushi").
std::string EscapeGoModulePath(std::string_view path);

}  // namespace pkgtrust::registry
