#include "pkgtrust/registry/registry_client.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>

#include "pkgtrust/core/json_limits.hpp"
#include "pkgtrust/core/package_name.hpp"
#include "pkgtrust/core/time.hpp"
#include "pkgtrust/core/version.hpp"
#include "pkgtrust/net/url.hpp"
#include "pkgtrust/registry/parsers.hpp"

namespace pkgtrust::registry {
namespace {

using net::HttpResponse;

// An HTTP answer other than 200 (and not the 404 the caller handles) as an error.
core::Status UnexpectedStatus(const HttpResponse& r, std::string_view what) {
  return core::Status::Unavailable(fmt::format("{}: {} answered HTTP {}", what, r.url, r.status));
}

// A JSON answer without its oversized strings (a README of 40 MB, say), so that parsing
// it costs about its own size: see core::ElideLongJsonStrings.
std::string_view JsonBody(HttpResponse& response) {
  core::ElideLongJsonStrings(response.body);
  return response.body;
}

// A version from an upstream answer that goes into a URL path: one segment, no way out of
// the directory it names ("..", a slash, a control character), bounded.
bool IsSafeVersionSegment(std::string_view v) {
  if (v.empty() || v.size() > 128 || v == "." || v == ".." || v.front() == '.') return false;
  for (char c : v)
    if (c == '/' || c == '\\' || static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  return true;
}

bool NotFound(const core::Result<HttpResponse>& r) {
  return r.ok() && (r->status == 404 || r->status == 410);
}

}  // namespace

void RegistryClient::FetchAll(std::vector<net::HttpRequest> requests, std::function<void(Responses)> done) {
  struct State {
    std::mutex mu;
    Responses results;
    std::size_t pending;
    std::function<void(Responses)> done;
  };
  auto state = std::make_shared<State>();
  state->pending = requests.size();
  state->done = std::move(done);
  for (std::size_t i = 0; i < requests.size(); ++i)
    state->results.emplace_back(core::Status::Unavailable("pending"));
  if (requests.empty()) {
    state->done({});
    return;
  }
  bool urgent = requests.front().urgent;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    http_.Fetch(std::move(requests[i]), [this, state, i, urgent](core::Result<HttpResponse> r) {
      {
        std::lock_guard lock(state->mu);
        state->results[i] = std::move(r);
        if (--state->pending > 0) return;
      }
      // The answers are parsed off the I/O thread.
      core::RunOn(options_.run_cpu_work, urgent, [state] { state->done(std::move(state->results)); });
    });
  }
}

std::string EscapeGoModulePath(std::string_view path) {
  std::string out;
  for (char c : path) {
    if (c >= 'A' && c <= 'Z') {
      out += '!';
      out += static_cast<char>(c - 'A' + 'a');
    } else {
      out += c;
    }
  }
  return out;
}

RegistryClient::RegistryClient(net::HttpClient& http, RegistryEndpoints endpoints, RegistryOptions options)
    : http_(http), endpoints_(std::move(endpoints)), options_(options) {}

net::HttpRequest RegistryClient::Get(std::string url, bool urgent) const {
  net::HttpRequest request;
  request.url = std::move(url);
  request.urgent = urgent;
  request.timeout = options_.timeout;
  request.max_body_bytes = options_.max_body_bytes;
  request.max_attempts = options_.max_attempts;
  return request;
}

void RegistryClient::Fetch(const core::PackageKey& key, std::function<void(RegistryResult)> done,
                           bool urgent) {
  switch (key.ecosystem) {
    case core::Ecosystem::kNpm:
      return FetchNpm(key, urgent, std::move(done));
    case core::Ecosystem::kPypi:
      return FetchPypi(key, urgent, std::move(done));
    case core::Ecosystem::kCrates:
      return FetchCrates(key, urgent, std::move(done));
    case core::Ecosystem::kMaven:
      return FetchMaven(key, urgent, std::move(done));
    case core::Ecosystem::kGo:
      return FetchGo(key, urgent, std::move(done));
  }
  done(core::Status::InvalidArgument("unknown ecosystem"));
}

void RegistryClient::FetchNpm(const core::PackageKey& key, bool urgent,
                              std::function<void(RegistryResult)> done) {
  std::string encoded = net::EncodePathSegment(key.name);  // "@scope/name" -> "@scope%2Fname"
  auto packument = Get(fmt::format("{}/{}", endpoints_.npm, encoded), urgent);
  packument.headers.emplace_back("Accept", "application/json");
  auto downloads =
      Get(fmt::format("{}/downloads/point/last-month/{}", endpoints_.npm_downloads, key.name), urgent);
  downloads.max_attempts = 1;  // a nice-to-have: never hold the package for it
  FetchAll({std::move(packument), std::move(downloads)}, [key, done = std::move(done)](Responses r) {
    if (NotFound(r[0])) return done(std::optional<PackageFacts>());
    if (!r[0].ok()) return done(r[0].status());
    if (r[0]->status != 200) return done(UnexpectedStatus(*r[0], "npm"));
    auto facts = ParseNpmPackument(JsonBody(*r[0]), key);
    if (!facts.ok()) return done(facts.status());
    if (r[1].ok() && r[1]->status == 200)
      if (auto n = ParseNpmDownloads(JsonBody(*r[1])); n.ok()) facts->downloads_last_month = *n;
    done(std::optional<PackageFacts>(std::move(facts).value()));
  });
}

void RegistryClient::FetchPypi(const core::PackageKey& key, bool urgent,
                               std::function<void(RegistryResult)> done) {
  FetchAll({Get(fmt::format("{}/pypi/{}/json", endpoints_.pypi, key.name), urgent)},
           [key, done = std::move(done)](Responses r) {
             if (NotFound(r[0])) return done(std::optional<PackageFacts>());
             if (!r[0].ok()) return done(r[0].status());
             if (r[0]->status != 200) return done(UnexpectedStatus(*r[0], "PyPI"));
             auto facts = ParsePypiProject(JsonBody(*r[0]), key);
             if (!facts.ok()) return done(facts.status());
             done(std::optional<PackageFacts>(std::move(facts).value()));
           });
}

void RegistryClient::FetchCrates(const core::PackageKey& key, bool urgent,
                                 std::function<void(RegistryResult)> done) {
  auto owners = Get(fmt::format("{}/api/v1/crates/{}/owners", endpoints_.crates, key.name), urgent);
  owners.max_attempts = 1;
  FetchAll({Get(fmt::format("{}/api/v1/crates/{}", endpoints_.crates, key.name), urgent), std::move(owners)},
           [key, done = std::move(done)](Responses r) {
             if (NotFound(r[0])) return done(std::optional<PackageFacts>());
             if (!r[0].ok()) return done(r[0].status());
             if (r[0]->status != 200) return done(UnexpectedStatus(*r[0], "crates.io"));
             auto facts = ParseCratesCrate(JsonBody(*r[0]), key);
             if (!facts.ok()) return done(facts.status());
             if (r[1].ok() && r[1]->status == 200)
               if (auto owners = ParseCratesOwners(JsonBody(*r[1])); owners.ok() && !owners->empty())
                 facts->maintainers = std::move(owners).value();
             done(std::optional<PackageFacts>(std::move(facts).value()));
           });
}

void RegistryClient::FetchMaven(const core::PackageKey& key, bool urgent,
                                std::function<void(RegistryResult)> done) {
  auto colon = key.name.find(':');
  std::string group = key.name.substr(0, colon), artifact = key.name.substr(colon + 1);
  std::string group_path = group;
  std::replace(group_path.begin(), group_path.end(), '.', '/');
  std::string base = fmt::format("{}/{}/{}", endpoints_.maven, group_path, artifact);
  FetchAll({Get(base + "/maven-metadata.xml", urgent)}, [this, key, group, artifact, base, urgent,
                                                         done = std::move(done)](Responses r) mutable {
    if (NotFound(r[0])) return done(std::optional<PackageFacts>());
    if (!r[0].ok()) return done(r[0].status());
    if (r[0]->status != 200) return done(UnexpectedStatus(*r[0], "Maven"));
    auto metadata = ParseMavenMetadata(r[0]->body);
    if (!metadata.ok()) return done(metadata.status());
    auto facts = std::make_shared<PackageFacts>();
    facts->key = key;
    facts->display_name = key.name;
    facts->latest_version = metadata->latest;
    for (const std::string& v : metadata->versions) facts->versions.push_back({v});
    facts->modified = metadata->last_updated;
    if (facts->latest_version.empty()) {
      Finish(*facts);
      return done(std::optional<PackageFacts>(std::move(*facts)));
    }
    // The latest POM, then its parents until <scm> and <licenses> are known. Every
    // coordinate here comes from the registry's answers: checked as a name would be,
    // and encoded, before it becomes part of a URL.
    auto walk = std::make_shared<std::function<void(std::string, std::string, std::string, int)>>();
    *walk = [this, facts, walk, done, urgent](std::string g, std::string a, std::string v,
                                              int depth) mutable {
      auto coordinates = core::MakePackageKey(core::Ecosystem::kMaven, g + ":" + a);
      if (!coordinates.ok() || !IsSafeVersionSegment(v)) {
        *walk = nullptr;
        if (depth == 0)
          return done(core::Status::InvalidArgument(fmt::format(
              "Maven: the metadata's latest version '{}' cannot be part of a URL", v.substr(0, 80))));
        Finish(*facts);  // a parent we will not ask for ends the walk with what we know
        return done(std::optional<PackageFacts>(std::move(*facts)));
      }
      std::string gp = g;
      std::replace(gp.begin(), gp.end(), '.', '/');
      std::string ea = net::EncodePathSegment(a), ev = net::EncodePathSegment(v);
      std::string url = fmt::format("{}/{}/{}/{}/{}-{}.pom", endpoints_.maven, gp, ea, ev, ea, ev);
      FetchAll({Get(url, urgent)}, [this, facts, walk, done, depth](Responses r) mutable {
        // Every way out of the walk ends here, which also breaks the walker's self-reference.
        auto end = [&](RegistryResult result) {
          *walk = nullptr;
          done(std::move(result));
        };
        auto finish = [&] {
          Finish(*facts);
          end(std::optional<PackageFacts>(std::move(*facts)));
        };
        if (!r[0].ok() || r[0]->status != 200) {
          if (depth == 0 && r[0].ok() && r[0]->status != 404)
            return end(UnexpectedStatus(*r[0], "Maven POM"));
          if (depth == 0 && !r[0].ok()) return end(r[0].status());
          return finish();  // a missing parent POM ends the walk with what we know
        }
        auto pom = ParseMavenPom(r[0]->body);
        if (!pom.ok()) return depth == 0 ? end(pom.status()) : finish();
        if (depth == 0) {
          if (const std::string* modified = r[0]->Header("last-modified")) {
            // Maven metadata has no publish times; the latest POM's Last-Modified stands in.
            std::int64_t secs = net::ParseHttpDate(*modified);
            if (VersionFacts* latest = facts->FindVersion(facts->latest_version); latest && secs > 0)
              latest->published = secs * 1000;
          }
          facts->description = pom->description;
          facts->homepage = pom->url;
          facts->maintainers = pom->developers;
        }
        if (facts->description.empty()) facts->description = pom->description;
        if (facts->homepage.empty()) facts->homepage = pom->url;
        if (facts->repository_declared.empty() && !pom->scm.empty()) facts->repository_declared = pom->scm;
        if (facts->license.empty() && !pom->licenses.empty()) facts->license = pom->licenses.front();
        bool complete = !facts->repository_declared.empty() && !facts->license.empty();
        if (complete || pom->parent_artifact_id.empty() || depth + 1 >= options_.maven_parent_depth)
          return finish();
        (*walk)(pom->parent_group_id, pom->parent_artifact_id, pom->parent_version, depth + 1);
      });
    };
    (*walk)(group, artifact, facts->latest_version, 0);
  });
}

void RegistryClient::FetchGo(const core::PackageKey& key, bool urgent,
                             std::function<void(RegistryResult)> done) {
  std::string base = fmt::format("{}/{}", endpoints_.go, EscapeGoModulePath(key.name));
  FetchAll(
      {Get(base + "/@v/list", urgent), Get(base + "/@latest", urgent)},
      [this, key, base, urgent, done = std::move(done)](Responses r) mutable {
        if (NotFound(r[0]) && NotFound(r[1])) return done(std::optional<PackageFacts>());
        for (const auto& response : r) {
          if (!response.ok()) return done(response.status());
          if (response->status != 200 && !NotFound(response))
            return done(UnexpectedStatus(*response, "Go proxy"));
        }
        auto facts = std::make_shared<PackageFacts>();
        facts->key = key;
        facts->display_name = key.name;
        // Versions become URLs (@v/<version>.info): only what Go's semver accepts.
        std::vector<std::string> versions;
        if (r[0]->status == 200)
          for (std::string& v : ParseGoVersionList(r[0]->body))
            if (core::IsValidVersion(core::Ecosystem::kGo, v) && IsSafeVersionSegment(v))
              versions.push_back(std::move(v));
        if (r[1]->status == 200) {
          if (auto latest = ParseGoInfo(JsonBody(*r[1]));
              latest.ok() && core::IsValidVersion(core::Ecosystem::kGo, latest->version) &&
              IsSafeVersionSegment(latest->version)) {
            facts->latest_version = latest->version;
            if (std::find(versions.begin(), versions.end(), latest->version) == versions.end())
              versions.push_back(latest->version);  // a pseudo-version: the module has no tags
          }
        }
        if (facts->latest_version.empty() && !versions.empty()) facts->latest_version = versions.back();
        for (const std::string& v : versions) facts->versions.push_back({v});
        if (auto repo = core::RepositoryFromGoModule(key.name)) {
          facts->repository = repo;
          facts->repository_declared = key.name;
        }
        // Retractions from the latest go.mod, publish times from the newest versions' .info.
        std::vector<net::HttpRequest> requests;
        if (!facts->latest_version.empty())
          requests.push_back(
              Get(fmt::format("{}/@v/{}.mod", base, net::EncodePathSegment(facts->latest_version)), urgent));
        int infos = 0;
        for (auto it = versions.rbegin(); it != versions.rend() && infos < options_.go_version_infos;
             ++it, ++infos)
          requests.push_back(Get(fmt::format("{}/@v/{}.info", base, net::EncodePathSegment(*it)), urgent));
        bool has_mod = !facts->latest_version.empty();
        FetchAll(std::move(requests), [facts, has_mod, done = std::move(done)](Responses more) {
          std::size_t i = 0;
          if (has_mod && more[i].ok() && more[i]->status == 200) {
            GoMod mod = ParseGoMod(more[i]->body);
            for (VersionFacts& v : facts->versions) v.yanked = IsRetracted(mod, v.version);
          }
          for (i = has_mod ? 1 : 0; i < more.size(); ++i) {
            if (!more[i].ok() || more[i]->status != 200) continue;
            if (auto info = ParseGoInfo(JsonBody(*more[i])); info.ok())
              for (VersionFacts& v : facts->versions)
                if (v.version == info->version) v.published = info->time;
          }
          Finish(*facts);
          if (const VersionFacts* latest = facts->FindVersion(facts->latest_version))
            facts->modified = latest->published;
          done(std::optional<PackageFacts>(std::move(*facts)));
        });
      });
}

}  // namespace pkgtrust::registry
