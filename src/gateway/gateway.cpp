#include "pkgtrust/gateway/gateway.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <list>
#include <map>
#include <mutex>
#include <unordered_map>

#include "pkgtrust/core/json_limits.hpp"
#include "pkgtrust/core/log.hpp"
#include "pkgtrust/core/metrics.hpp"
#include "pkgtrust/gateway/file_index.hpp"
#include "pkgtrust/gateway/integrity.hpp"
#include "pkgtrust/gateway/knowledge.hpp"
#include "pkgtrust/gateway/npm_audit.hpp"
#include "pkgtrust/gateway/npm_metadata.hpp"
#include "pkgtrust/gateway/pypi_index.hpp"
#include "pkgtrust/gateway/requests.hpp"

namespace pkgtrust::gateway {

namespace {

using Steady = std::chrono::steady_clock;
using api::Responder;
using api::ServerRequest;
using api::ServerResponse;

// A cached file up to this size is answered from memory in one piece; larger ones stream.
constexpr std::uint64_t kWholeFileBytes = 1u << 20;
constexpr std::size_t kStreamChunk = 256u << 10;
// How long a package submitted for scoring is not submitted again by the gateway.
constexpr auto kResubmitAfter = std::chrono::seconds(60);
// How long what is known of a package (advisories, score) is reused for its file requests: a
// new advisory or report applies to files within this. Metadata requests always read afresh.
constexpr auto kKnowledgeReuse = std::chrono::seconds(1);

std::string WithoutTrailingSlash(std::string url) {
  while (url.ends_with('/')) url.pop_back();
  return url;
}

// One upstream metadata document (a packument, a project page) as cached.
struct Metadata {
  std::string body;
  std::string etag;
  std::atomic<std::int64_t> fetched_ns{0};  // steady clock; refreshed by a 304
  // The files it publishes, read the first time a file is asked for.
  mutable std::once_flag files_once;
  mutable core::Result<std::unordered_map<std::string, PublishedFile>> files =
      core::Status::Internal("not read");
  mutable std::atomic<bool> files_read{false};  // after files_once ran

  Steady::time_point fetched() const { return Steady::time_point(Steady::duration(fetched_ns.load())); }
  void Touch() { fetched_ns = Steady::now().time_since_epoch().count(); }
};
using MetadataPtr = std::shared_ptr<const Metadata>;

// Upstream metadata by URL, bounded by the bytes of the bodies, least recently used out.
class MetadataCache {
 public:
  explicit MetadataCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  std::shared_ptr<Metadata> Find(const std::string& url) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(url);
    if (it == entries_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second.position);
    return it->second.metadata;
  }

  void Put(const std::string& url, std::shared_ptr<Metadata> metadata) {
    std::lock_guard lock(mu_);
    if (auto it = entries_.find(url); it != entries_.end()) {
      bytes_ -= it->second.metadata->body.size();
      order_.erase(it->second.position);
      entries_.erase(it);
    }
    if (metadata->body.size() > max_bytes_) return;
    order_.push_front(url);
    bytes_ += metadata->body.size();
    entries_[url] = {std::move(metadata), order_.begin()};
    while (bytes_ > max_bytes_ && !order_.empty()) {
      auto victim = entries_.find(order_.back());
      bytes_ -= victim->second.metadata->body.size();
      entries_.erase(victim);
      order_.pop_back();
    }
  }

  std::size_t bytes() const {
    std::lock_guard lock(mu_);
    return bytes_;
  }

 private:
  struct Entry {
    std::shared_ptr<Metadata> metadata;
    std::list<std::string>::iterator position;
  };
  const std::size_t max_bytes_;
  mutable std::mutex mu_;
  std::list<std::string> order_;
  std::unordered_map<std::string, Entry> entries_;
  std::size_t bytes_ = 0;
};

// Cached files up to kWholeFileBytes also kept in memory, this many bytes of them, least
// recently used out: the files of popular packages are answered without touching the disk
// or copying (the server writes the shared bytes).
constexpr std::size_t kHotFilesBytes = 64u << 20;

class HotFiles {
 public:
  std::shared_ptr<const std::string> Find(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second.position);
    return it->second.bytes;
  }
  void Put(const std::string& key, std::shared_ptr<const std::string> bytes) {
    std::lock_guard lock(mu_);
    if (entries_.contains(key)) return;
    order_.push_front(key);
    bytes_ += bytes->size();
    entries_[key] = {std::move(bytes), order_.begin()};
    while (bytes_ > kHotFilesBytes && !order_.empty()) {
      auto victim = entries_.find(order_.back());
      bytes_ -= victim->second.bytes->size();
      entries_.erase(victim);
      order_.pop_back();
    }
  }

 private:
  struct Entry {
    std::shared_ptr<const std::string> bytes;
    std::list<std::string>::iterator position;
  };
  std::mutex mu_;
  std::list<std::string> order_;
  std::unordered_map<std::string, Entry> entries_;
  std::size_t bytes_ = 0;
};

// A cached file larger than kWholeFileBytes, read a chunk at a time as the client takes it.
class CachedFileStream final : public api::ResponseStream {
 public:
  CachedFileStream(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
  ~CachedFileStream() override { ::close(fd_); }
  void Next(std::function<void(std::string bytes, bool end)> deliver) override {
    std::string chunk(static_cast<std::size_t>(std::min<std::uint64_t>(kStreamChunk, size_ - offset_)), '\0');
    ssize_t n = chunk.empty() ? 0 : ::pread(fd_, chunk.data(), chunk.size(), static_cast<off_t>(offset_));
    if (n <= 0) return deliver("", true);  // read error or done: the length tells the client which
    chunk.resize(static_cast<std::size_t>(n));
    offset_ += static_cast<std::uint64_t>(n);
    deliver(std::move(chunk), offset_ == size_);
  }

 private:
  int fd_;
  std::uint64_t size_, offset_ = 0;
};

}  // namespace

// The decisions and events /metrics counts, by label set.
class Counters {
 public:
  void Add(const std::string& labels, std::int64_t n = 1) {
    std::lock_guard lock(mu_);
    counts_[labels] += n;
  }
  void Append(std::string& out, std::string_view name) const {
    std::lock_guard lock(mu_);
    for (const auto& [labels, n] : counts_)
      core::AppendPrometheusSample(out, name, labels, static_cast<double>(n));
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::int64_t> counts_;
};

class Gateway::Impl {
 public:
  Impl(GatewayConfig config, store::Store& store, pipeline::Pipeline* pipeline,
       const scoring::PopularPackages* popular, net::HttpClient& http, core::Executor& executor,
       const core::Clock& clock, std::unique_ptr<FileCache> files)
      : config_(std::move(config)),
        store_(store),
        pipeline_(pipeline),
        popular_(popular),
        http_(http),
        executor_(executor),
        clock_(clock),
        files_(std::move(files)),
        metadata_(config_.metadata_cache_bytes) {
    config_.npm_upstream = WithoutTrailingSlash(config_.npm_upstream);
    config_.pypi_upstream = WithoutTrailingSlash(config_.pypi_upstream);
    config_.pypi_files_upstream = WithoutTrailingSlash(config_.pypi_files_upstream);
    config_.public_url = WithoutTrailingSlash(config_.public_url);
  }

  void Handle(ServerRequest request, Responder respond);
  void AppendPrometheus(std::string& out) const;
  void SetRecorder(std::function<void(AnsweredRequest)> recorder) { recorder_ = std::move(recorder); }
  // The client's address: the socket's, or what a trusted proxy says it forwarded for.
  std::string ClientAddress(const ServerRequest& request) const;
  FileCacheStats FileStats() const { return files_->Stats(); }

  // A request on its way: which protocol, the base URL clients reach the gateway at, and
  // the answer (counted once).
  struct Call {
    bool npm = true;
    std::string base;  // "http://host:port/registry/npm/"
    std::string accept;
    Responder respond;
  };
  using CallPtr = std::shared_ptr<Call>;

  // A refusal or an error in the form each client prints: npm shows the `error` member of a
  // JSON body; pip shows the status line's reason phrase.
  void Fail(const Call& call, int status, const std::string& message) const {
    ServerResponse r;
    r.status = status;
    if (call.npm) {
      r.content_type = "application/json";
      r.body = "{\"error\":";
      core::AppendJsonString(r.body, message);
      r.body += "}";
    } else {
      r.content_type = "text/plain; charset=utf-8";
      r.body = message + "\n";
      r.reason = message;
    }
    if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"pkgtrust gateway\"");
    call.respond(std::move(r));
  }

 private:
  bool Authorized(const ServerRequest& request) const;
  std::string BaseUrl(const ServerRequest& request, const std::string& prefix) const;

  void HandleNpm(const ServerRequest& request, std::string_view below, CallPtr call);
  void HandlePypi(const ServerRequest& request, std::string_view below, CallPtr call);
  void NpmPackument(NpmRequest parsed, CallPtr call);
  void NpmTarball(NpmRequest parsed, CallPtr call);
  void NpmAudit(const ServerRequest& request, CallPtr call);
  void PypiPage(PypiRequest parsed, CallPtr call);
  void PypiFile(PypiRequest parsed, CallPtr call);

  // The cached document for `url`, fresh or revalidated, or stale within stale_if_error
  // when the upstream fails. `done` runs on an HTTP client thread or this one.
  void GetMetadata(const std::string& url, const std::string& accept,
                   std::function<void(core::Result<MetadataPtr>)> done);
  const core::Result<std::unordered_map<std::string, PublishedFile>>& FilesOf(const Metadata& m,
                                                                              bool npm) const;

  // What the policy needs; a store error leaves the package unchecked (`unscored` decides).
  PackageKnowledge Know(const core::PackageKey& key);
  // The same, reused for kKnowledgeReuse (file requests: many per package in one install).
  std::shared_ptr<const PackageKnowledge> KnowRecent(const core::PackageKey& key);
  // The cached document for `url` when it is fresh and its files are read: a file request
  // is then answered on the I/O thread, with no hop to the executor.
  MetadataPtr FreshWithFiles(const std::string& url);
  void NpmTarballWith(const NpmRequest& parsed, const CallPtr& call,
                      const core::Result<MetadataPtr>& metadata);
  void PypiFileWith(const PypiRequest& parsed, const CallPtr& call,
                    const core::Result<MetadataPtr>& metadata);
  void SubmitIfUnscored(const PackageKnowledge& knowledge);
  void CountDecision(std::string_view ecosystem, const Decision& decision);
  void Warn(ServerResponse& response, const Call& call, const std::vector<std::string>& warnings);

  struct FileToServe {
    std::string ecosystem;                // for counters and logs
    std::string name;                     // "left-pad@1.3.0", "numpy-2.0.0-...whl"
    std::string url;                      // upstream
    std::optional<IntegrityCheck> check;  // none: passed through unchecked and not cached
  };
  void ServeFile(FileToServe file, CallPtr call, std::vector<std::string> warnings);

  friend class Download;
  GatewayConfig config_;
  store::Store& store_;
  pipeline::Pipeline* pipeline_;
  const scoring::PopularPackages* popular_;
  net::HttpClient& http_;
  core::Executor& executor_;
  const core::Clock& clock_;
  std::unique_ptr<FileCache> files_;
  MetadataCache metadata_;
  std::mutex knowledge_mu_;
  std::unordered_map<std::string, std::pair<Steady::time_point, std::shared_ptr<const PackageKnowledge>>>
      knowledge_;
  std::mutex submitted_mu_;
  std::unordered_map<std::string, Steady::time_point> submitted_;
  Counters requests_, decisions_, events_;
  HotFiles hot_;
  std::function<void(AnsweredRequest)> recorder_;
  // The two events of every cached answer, counted without a lock.
  std::atomic<std::int64_t> metadata_hits_{0}, file_cache_hits_{0};
};

namespace {

std::string HeaderOr(const ServerRequest& request, std::string_view name) {
  const std::string* value = request.Header(name);
  return value ? *value : std::string();
}

bool SameSecret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string Base64Decode(std::string_view text) {
  std::string out((text.size() / 4 + 1) * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return "";
  out.resize(static_cast<std::size_t>(n));
  // EVP_DecodeBlock counts padding as zero bytes.
  for (std::size_t i = text.size(); i > 0 && text[i - 1] == '=' && !out.empty(); --i) out.pop_back();
  return out;
}

bool ValidHost(std::string_view host) {
  if (host.empty() || host.size() > 255) return false;
  for (char c : host)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != ':' && c != '[' &&
        c != ']')
      return false;
  return true;
}

std::string StripFragment(std::string url) {
  if (std::size_t hash = url.find('#'); hash != std::string::npos) url.resize(hash);
  return url;
}

}  // namespace

bool Gateway::Impl::Authorized(const ServerRequest& request) const {
  if (config_.client_token.empty()) return true;
  const std::string* header = request.Header("authorization");
  if (header == nullptr) return false;
  std::string_view value = *header;
  if (value.starts_with("Bearer ")) return SameSecret(value.substr(7), config_.client_token);
  if (value.starts_with("Basic ")) {
    std::string decoded = Base64Decode(value.substr(6));
    std::size_t colon = decoded.find(':');
    return colon != std::string::npos &&
           SameSecret(std::string_view(decoded).substr(colon + 1), config_.client_token);
  }
  return false;
}

std::string Gateway::Impl::ClientAddress(const ServerRequest& request) const {
  auto trusted = [&](std::string_view address) {
    return std::find(config_.trusted_proxies.begin(), config_.trusted_proxies.end(), address) !=
           config_.trusted_proxies.end();
  };
  if (!trusted(request.remote)) return request.remote;
  const std::string* forwarded = request.Header("x-forwarded-for");
  if (forwarded == nullptr) return request.remote;
  // Right to left: each proxy appends the address it received the request from.
  std::string_view rest = *forwarded;
  while (!rest.empty()) {
    std::size_t comma = rest.rfind(',');
    std::string_view hop = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    while (!hop.empty() && hop.front() == ' ') hop.remove_prefix(1);
    while (!hop.empty() && hop.back() == ' ') hop.remove_suffix(1);
    if (hop.empty()) continue;
    if (!trusted(hop)) return std::string(hop);
  }
  return request.remote;
}

std::string Gateway::Impl::BaseUrl(const ServerRequest& request, const std::string& prefix) const {
  if (!config_.public_url.empty()) return config_.public_url + prefix;
  return "http://" + HeaderOr(request, "host") + prefix;
}

void Gateway::Impl::Handle(ServerRequest request, Responder respond) {
  auto call = std::make_shared<Call>();
  call->accept = HeaderOr(request, "accept");
  bool npm = !config_.npm_prefix.empty() && request.path.starts_with(config_.npm_prefix);
  call->npm = npm;
  const std::string& prefix = npm ? config_.npm_prefix : config_.pypi_prefix;
  std::shared_ptr<AnsweredRequest> answered;
  if (recorder_ && request.path.starts_with(prefix)) {
    answered = std::make_shared<AnsweredRequest>();
    answered->at = clock_.NowMillis();
    answered->ecosystem = npm ? "npm" : "pypi";
    answered->method = request.method;
    answered->path = request.path.substr(prefix.size());
    answered->client_address = ClientAddress(request);
    answered->user_agent = HeaderOr(request, "user-agent");
  }
  call->respond = [this, npm, answered, started = Steady::now(),
                   respond = std::move(respond)](ServerResponse response) {
    requests_.Add(fmt::format("ecosystem=\"{}\",status=\"{}\"", npm ? "npm" : "pypi", response.status));
    if (answered) {
      answered->status = response.status;
      answered->bytes = static_cast<std::int64_t>(response.stream_length ? *response.stream_length
                                                  : response.shared_body ? response.shared_body->size()
                                                                         : response.body.size());
      answered->duration_us =
          std::chrono::duration_cast<std::chrono::microseconds>(Steady::now() - started).count();
      recorder_(std::move(*answered));
    }
    respond(std::move(response));
  };
  if (!npm && (config_.pypi_prefix.empty() || !request.path.starts_with(config_.pypi_prefix)))
    return Fail(*call, 404, "no such registry endpoint");
  if (!Authorized(request)) return Fail(*call, 401, "the gateway needs a token: see docs/gateway.md");
  if (config_.public_url.empty() && !ValidHost(HeaderOr(request, "host")))
    return Fail(*call, 400, "the request's Host header is missing or not a host name");
  call->base = BaseUrl(request, prefix);
  std::string_view below = std::string_view(request.path).substr(prefix.size());
  if (npm) return HandleNpm(request, below, std::move(call));
  HandlePypi(request, below, std::move(call));
}

void Gateway::Impl::HandleNpm(const ServerRequest& request, std::string_view below, CallPtr call) {
  auto parsed = ParseNpmRequest(below);
  if (!parsed.ok()) return Fail(*call, 404, parsed.status().message());
  if (parsed->kind == NpmRequest::Kind::kAudit) {
    if (request.method != "POST") return Fail(*call, 405, "the audit endpoint takes POST");
    return NpmAudit(request, std::move(call));
  }
  if (request.method != "GET") return Fail(*call, 405, "the gateway is read-only: it takes GET");
  if (parsed->kind == NpmRequest::Kind::kPackument)
    return NpmPackument(std::move(parsed).value(), std::move(call));
  NpmTarball(std::move(parsed).value(), std::move(call));
}

void Gateway::Impl::HandlePypi(const ServerRequest& request, std::string_view below, CallPtr call) {
  if (request.method != "GET") return Fail(*call, 405, "the gateway is read-only: it takes GET");
  if (below.empty() || below == "simple" || below == "simple/")
    return Fail(*call, 404,
                "the gateway serves project pages (simple/<project>/), not the list of every project");
  auto parsed = ParsePypiRequest(below);
  if (!parsed.ok()) return Fail(*call, 404, parsed.status().message());
  if (parsed->kind == PypiRequest::Kind::kProjectPage)
    return PypiPage(std::move(parsed).value(), std::move(call));
  PypiFile(std::move(parsed).value(), std::move(call));
}

// ------------------------------------------------------------------ knowledge and decisions

PackageKnowledge Gateway::Impl::Know(const core::PackageKey& key) {
  auto knowledge = KnowledgeOf(store_, popular_, key);
  if (knowledge.ok()) return std::move(knowledge).value();
  core::Log(core::LogLevel::kError, "gateway", "{}: cannot read what is known of it: {}", key.ToString(),
            knowledge.status().message());
  PackageKnowledge unknown;
  unknown.key = key;
  return unknown;
}

std::shared_ptr<const PackageKnowledge> Gateway::Impl::KnowRecent(const core::PackageKey& key) {
  std::string id = key.ToString();
  auto now = Steady::now();
  {
    std::lock_guard lock(knowledge_mu_);
    if (auto it = knowledge_.find(id); it != knowledge_.end() && now - it->second.first < kKnowledgeReuse)
      return it->second.second;
  }
  auto known = std::make_shared<const PackageKnowledge>(Know(key));
  std::lock_guard lock(knowledge_mu_);
  if (knowledge_.size() > 10'000) knowledge_.clear();
  knowledge_[id] = {now, known};
  return known;
}

MetadataPtr Gateway::Impl::FreshWithFiles(const std::string& url) {
  std::shared_ptr<Metadata> cached = metadata_.Find(url);
  if (!cached || !cached->files_read || Steady::now() - cached->fetched() >= config_.metadata_ttl)
    return nullptr;
  metadata_hits_.fetch_add(1, std::memory_order_relaxed);
  return cached;
}

void Gateway::Impl::SubmitIfUnscored(const PackageKnowledge& knowledge) {
  if (pipeline_ == nullptr || knowledge.score) return;
  std::string id = knowledge.key.ToString();
  {
    std::lock_guard lock(submitted_mu_);
    auto now = Steady::now();
    auto [it, added] = submitted_.try_emplace(id, now);
    if (!added && now - it->second < kResubmitAfter) return;
    it->second = now;
    if (submitted_.size() > 100'000) submitted_.clear();
  }
  store::EnqueueRequest request;
  request.key = knowledge.key;
  request.priority = core::Priority::kPriority;
  request.restart_finished = false;
  events_.Add("event=\"submitted\"");
  pipeline_->SubmitAsync({std::move(request)}, "gateway", [id](auto result) {
    if (!result.ok())
      core::Log(core::LogLevel::kWarn, "gateway", "{}: could not submit it for scoring: {}", id,
                result.status().message());
  });
}

void Gateway::Impl::CountDecision(std::string_view ecosystem, const Decision& decision) {
  if (decision.action == Action::kOff) return;
  std::string_view action = decision.refused                    ? "block"
                            : decision.action == Action::kBlock ? "monitor"
                                                                : "warn";
  decisions_.Add(fmt::format("ecosystem=\"{}\",rule=\"{}\",action=\"{}\"", ecosystem, decision.rule, action));
}

void Gateway::Impl::Warn(ServerResponse& response, const Call& call,
                         const std::vector<std::string>& warnings) {
  if (warnings.empty()) return;
  std::string joined;
  for (const std::string& w : warnings) {
    if (joined.size() > 2000) break;
    if (!joined.empty()) joined += "; ";
    joined += w;
  }
  for (char& c : joined)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  response.headers.emplace_back("X-Pkgtrust-Warning", joined);
  // npm prints the `npm-notice` header of registry answers.
  if (call.npm) response.headers.emplace_back("npm-notice", "pkgtrust: " + joined);
}

// ------------------------------------------------------------------ metadata

void Gateway::Impl::GetMetadata(const std::string& url, const std::string& accept,
                                std::function<void(core::Result<MetadataPtr>)> done) {
  std::shared_ptr<Metadata> cached = metadata_.Find(url);
  if (cached && Steady::now() - cached->fetched() < config_.metadata_ttl) {
    metadata_hits_.fetch_add(1, std::memory_order_relaxed);
    return done(MetadataPtr(cached));
  }
  net::HttpRequest request;
  request.url = url;
  request.headers.emplace_back("Accept", accept);
  if (cached && !cached->etag.empty()) request.headers.emplace_back("If-None-Match", cached->etag);
  request.timeout = config_.upstream_timeout;
  request.max_attempts = 2;
  request.urgent = true;
  http_.Fetch(std::move(request), [this, url, cached,
                                   done = std::move(done)](core::Result<net::HttpResponse> r) {
    if (r.ok() && r->status == 304 && cached) {
      cached->Touch();
      events_.Add("event=\"metadata_revalidated\"");
      return done(MetadataPtr(cached));
    }
    if (r.ok() && r->status == 200) {
      auto fresh = std::make_shared<Metadata>();
      fresh->body = std::move(r->body);
      // Room for the JSON reader to look past the end, so the document is read in place.
      fresh->body.reserve(fresh->body.size() + kJsonPadding);
      if (const std::string* etag = r->Header("etag")) fresh->etag = *etag;
      fresh->Touch();
      metadata_.Put(url, fresh);
      events_.Add("event=\"metadata_fetched\"");
      return done(MetadataPtr(fresh));
    }
    if (r.ok() && (r->status == 404 || r->status == 410))
      return done(core::Status::NotFound(fmt::format("not found upstream ({})", url)));
    std::string why = r.ok() ? fmt::format("the upstream answered {}", r->status) : r.status().message();
    if (cached && Steady::now() - cached->fetched() < config_.metadata_ttl + config_.stale_if_error) {
      events_.Add("event=\"metadata_stale_served\"");
      core::Log(core::LogLevel::kWarn, "gateway", "{}: {}; serving the copy cached {} s ago", url, why,
                std::chrono::duration_cast<std::chrono::seconds>(Steady::now() - cached->fetched()).count());
      return done(MetadataPtr(cached));
    }
    events_.Add("event=\"metadata_upstream_failed\"");
    done(core::Status::Unavailable(fmt::format("the upstream registry failed: {}", why)));
  });
}

const core::Result<std::unordered_map<std::string, PublishedFile>>& Gateway::Impl::FilesOf(const Metadata& m,
                                                                                           bool npm) const {
  std::call_once(m.files_once, [&] {
    m.files = npm ? ReadNpmFiles(m.body) : ReadPypiFiles(m.body);  // NpmFiles and PypiFiles are one type
    m.files_read = true;
  });
  return m.files;
}

int StatusFor(const core::Status& status) { return status.code() == core::StatusCode::kNotFound ? 404 : 502; }

// ------------------------------------------------------------------ npm

void Gateway::Impl::NpmPackument(NpmRequest parsed, CallPtr call) {
  std::string url = config_.npm_upstream + "/" + parsed.packument_path;
  GetMetadata(url, "application/json", [this, parsed, call](core::Result<MetadataPtr> metadata) {
    executor_.PostUrgent([this, parsed, call, metadata = std::move(metadata)] {
      if (!metadata.ok()) return Fail(*call, StatusFor(metadata.status()), metadata.status().message());
      PackageKnowledge knowledge = Know(parsed.key);
      SubmitIfUnscored(knowledge);
      core::Millis now = clock_.NowMillis();
      NpmForm form = NpmFormFor(call->accept);
      const std::string& body = (*metadata)->body;
      auto filtered = FilterNpmPackument(
          body, form, config_.npm_upstream, call->base,
          [&](std::string_view version, core::Millis published) {
            return Decide(config_.policy, knowledge, version, published, now);
          },
          body.capacity() - body.size());
      if (!filtered.ok()) return Fail(*call, 502, filtered.status().message());
      std::vector<std::string> warnings;
      for (const VersionDecision& v : filtered->removed) CountDecision("npm", v.decision);
      for (const VersionDecision& v : filtered->warned) {
        CountDecision("npm", v.decision);
        if (warnings.size() < 3) warnings.push_back(parsed.name + "@" + v.version + ": " + v.decision.reason);
      }
      if (!filtered->warned.empty())
        core::Log(core::LogLevel::kWarn, "gateway", "npm {}: {} version(s) warned: {}", parsed.name,
                  filtered->warned.size(), filtered->warned.front().decision.reason);
      if (filtered->kept == 0 && !filtered->removed.empty()) {
        const Decision& first = filtered->removed.front().decision;
        core::Log(core::LogLevel::kWarn, "gateway", "npm {}: every version refused: {}", parsed.name,
                  first.reason);
        return Fail(*call, 403,
                    fmt::format("{} is blocked by the pkgtrust gateway: {}", parsed.name, first.reason));
      }
      ServerResponse response;
      response.content_type =
          form == NpmForm::kAbbreviated ? "application/vnd.npm.install-v1+json" : "application/json";
      response.body = std::move(filtered->body);
      Warn(response, *call, warnings);
      call->respond(std::move(response));
    });
  });
}

void Gateway::Impl::NpmTarball(NpmRequest parsed, CallPtr call) {
  std::string url = config_.npm_upstream + "/" + parsed.packument_path;
  if (MetadataPtr fresh = FreshWithFiles(url)) return NpmTarballWith(parsed, call, fresh);
  GetMetadata(url, "application/json", [this, parsed, call](core::Result<MetadataPtr> metadata) {
    executor_.PostUrgent(
        [this, parsed, call, metadata = std::move(metadata)] { NpmTarballWith(parsed, call, metadata); });
  });
}

void Gateway::Impl::NpmTarballWith(const NpmRequest& parsed, const CallPtr& call,
                                   const core::Result<MetadataPtr>& metadata) {
  if (!metadata.ok()) return Fail(*call, StatusFor(metadata.status()), metadata.status().message());
  const auto& files = FilesOf(**metadata, /*npm=*/true);
  if (!files.ok()) return Fail(*call, 502, files.status().message());
  auto it = files->find(parsed.version);
  if (it == files->end())
    return Fail(*call, 404, fmt::format("{}@{} is not published upstream", parsed.name, parsed.version));
  const PublishedFile& file = it->second;
  Decision decision =
      Decide(config_.policy, *KnowRecent(parsed.key), parsed.version, file.published, clock_.NowMillis());
  CountDecision("npm", decision);
  std::string label = parsed.name + "@" + parsed.version;
  if (decision.refused) {
    core::Log(core::LogLevel::kWarn, "gateway", "npm {}: refused: {}", label, decision.reason);
    return Fail(*call, 403, fmt::format("{} is blocked by the pkgtrust gateway: {}", label, decision.reason));
  }
  if (!file.url.starts_with(config_.npm_upstream + "/"))
    return Fail(*call, 403, fmt::format("{}: its tarball is not on the configured upstream registry", label));
  auto check = IntegrityCheck::FromNpm(file.integrity, file.shasum);
  if (!check.ok()) return Fail(*call, 502, fmt::format("{}: {}", label, check.status().message()));
  std::vector<std::string> warnings;
  if (decision.action != Action::kOff) warnings.push_back(label + ": " + decision.reason);
  ServeFile({"npm", label, file.url, std::move(check).value()}, call, std::move(warnings));
}

void Gateway::Impl::NpmAudit(const ServerRequest& request, CallPtr call) {
  std::string body = request.body;
  const std::string* encoding = request.Header("content-encoding");
  if (encoding != nullptr && (*encoding == "gzip" || *encoding == "x-gzip")) {
    auto decoded = net::Gunzip(body, 64u << 20);
    if (!decoded.ok())
      return Fail(*call, 400, "the audit body is not valid gzip: " + decoded.status().message());
    body = std::move(decoded).value();
  }
  executor_.PostUrgent([this, call, body = std::move(body)] {
    auto answer = AnswerNpmAuditBulk(
        body, [this](const core::PackageKey& key) -> core::Result<std::vector<PackageKnowledge::Advisory>> {
          auto knowledge = KnowledgeOf(store_, nullptr, key);
          if (!knowledge.ok()) return knowledge.status();
          return std::move(knowledge->advisories);
        });
    if (!answer.ok())
      return Fail(*call, answer.status().code() == core::StatusCode::kInvalidArgument ? 400 : 503,
                  answer.status().message());
    events_.Add("event=\"audit\"");
    ServerResponse response;
    response.body = std::move(answer).value();
    call->respond(std::move(response));
  });
}

// ------------------------------------------------------------------ PyPI

void Gateway::Impl::PypiPage(PypiRequest parsed, CallPtr call) {
  std::string url = config_.pypi_upstream + "/" + parsed.upstream_path;
  GetMetadata(
      url, "application/vnd.pypi.simple.v1+json", [this, parsed, call](core::Result<MetadataPtr> metadata) {
        executor_.PostUrgent([this, parsed, call, metadata = std::move(metadata)] {
          if (!metadata.ok()) return Fail(*call, StatusFor(metadata.status()), metadata.status().message());
          PackageKnowledge knowledge = Know(parsed.key);
          SubmitIfUnscored(knowledge);
          core::Millis now = clock_.NowMillis();
          PypiForm form = PypiFormFor(call->accept);
          auto filtered = FilterPypiIndex((*metadata)->body, form, config_.pypi_files_upstream,
                                          call->base + "files/" + parsed.key.name + "/",
                                          [&](std::string_view version, core::Millis published) {
                                            return Decide(config_.policy, knowledge, version, published, now);
                                          });
          if (!filtered.ok()) return Fail(*call, 502, filtered.status().message());
          std::vector<std::string> warnings;
          for (const FileDecision& f : filtered->removed) CountDecision("pypi", f.decision);
          for (const FileDecision& f : filtered->warned) {
            CountDecision("pypi", f.decision);
            if (warnings.size() < 3) warnings.push_back(f.filename + ": " + f.decision.reason);
          }
          if (filtered->kept == 0 && !filtered->removed.empty()) {
            const Decision& first = filtered->removed.front().decision;
            core::Log(core::LogLevel::kWarn, "gateway", "pypi {}: every file refused: {}", parsed.key.name,
                      first.reason);
            // Refused by the policy: listed as yanked, so that pip prints why. Removed for any
            // other reason (a file on another host): nothing to show.
            if (filtered->yanked_refused == 0)
              return Fail(
                  *call, 403,
                  fmt::format("{} is blocked by the pkgtrust gateway: {}", parsed.key.name, first.reason));
          }
          ServerResponse response;
          response.content_type = std::string(PypiContentType(form, call->accept));
          response.body = std::move(filtered->body);
          Warn(response, *call, warnings);
          call->respond(std::move(response));
        });
      });
}

void Gateway::Impl::PypiFile(PypiRequest parsed, CallPtr call) {
  std::string url = config_.pypi_upstream + "/simple/" + parsed.key.name + "/";
  if (MetadataPtr fresh = FreshWithFiles(url)) return PypiFileWith(parsed, call, fresh);
  GetMetadata(
      url, "application/vnd.pypi.simple.v1+json", [this, parsed, call](core::Result<MetadataPtr> metadata) {
        executor_.PostUrgent(
            [this, parsed, call, metadata = std::move(metadata)] { PypiFileWith(parsed, call, metadata); });
      });
}

void Gateway::Impl::PypiFileWith(const PypiRequest& parsed, const CallPtr& call,
                                 const core::Result<MetadataPtr>& metadata) {
  if (!metadata.ok()) return Fail(*call, StatusFor(metadata.status()), metadata.status().message());
  const auto& files = FilesOf(**metadata, /*npm=*/false);
  if (!files.ok()) return Fail(*call, 502, files.status().message());
  auto it = files->find(parsed.filename);
  std::string upstream_url = config_.pypi_files_upstream + "/" + parsed.upstream_path;
  std::string file_url = it == files->end() ? "" : StripFragment(it->second.url);
  if (it == files->end() || (parsed.metadata ? file_url + ".metadata" : file_url) != upstream_url)
    return Fail(*call, 404, fmt::format("{} is not a file of {} upstream", parsed.filename, parsed.key.name));
  const PublishedFile& file = it->second;
  Decision decision =
      Decide(config_.policy, *KnowRecent(parsed.key), file.version, file.published, clock_.NowMillis());
  CountDecision("pypi", decision);
  if (decision.refused) {
    core::Log(core::LogLevel::kWarn, "gateway", "pypi {}: refused: {}", parsed.filename, decision.reason);
    return Fail(*call, 403, fmt::format("blocked by the pkgtrust gateway: {}", decision.reason));
  }
  std::optional<IntegrityCheck> check;
  std::string_view hex =
      parsed.metadata ? std::string_view(file.metadata_sha256) : std::string_view(file.sha256);
  if (parsed.metadata && !file.has_metadata)
    return Fail(*call, 404, fmt::format("{} has no metadata file upstream", parsed.filename));
  if (!hex.empty() || !parsed.metadata) {
    auto made = IntegrityCheck::FromSha256Hex(hex);
    if (!made.ok()) return Fail(*call, 502, fmt::format("{}: {}", parsed.filename, made.status().message()));
    check = std::move(made).value();
  }
  std::vector<std::string> warnings;
  if (decision.action != Action::kOff) warnings.push_back(parsed.filename + ": " + decision.reason);
  ServeFile({"pypi", parsed.filename + (parsed.metadata ? ".metadata" : ""), upstream_url, std::move(check)},
            call, std::move(warnings));
}

// ------------------------------------------------------------------ files

// One file on its way from the upstream to a client and into the cache. The upstream's
// pieces go to a temporary file of the cache as they arrive (and into the hash); the
// client reads that file behind them, at its own pace, and never gets the last byte before
// the hash matched. A mismatch ends the client's transfer short (its Content-Length says
// so) and the temporary file is removed.
class Download final : public api::ResponseStream, public std::enable_shared_from_this<Download> {
 public:
  Download(Gateway::Impl& gateway, std::string label, std::optional<IntegrityCheck> check,
           std::unique_ptr<FileCache::Writer> writer, Gateway::Impl::CallPtr call,
           std::vector<std::string> warnings)
      : gateway_(gateway),
        label_(std::move(label)),
        check_(std::move(check)),
        writer_(std::move(writer)),
        call_(std::move(call)),
        warnings_(std::move(warnings)) {}

  void Start(std::string url) {
    net::HttpRequest request;
    request.url = url;
    request.headers.emplace_back("Accept-Encoding", "identity");
    request.timeout = gateway_.config_.upstream_timeout;
    request.max_attempts = 2;
    request.urgent = true;
    auto self = shared_from_this();
    net::BodySink sink;
    sink.on_head = [self](const net::HttpResponse& head) { return self->OnHead(head); };
    sink.on_body = [self](std::string_view piece) { return self->OnBody(piece); };
    gateway_.http_.FetchStreamed(std::move(request), std::move(sink),
                                 [self](core::Result<net::HttpResponse> r) { self->OnDone(std::move(r)); });
  }

  void Next(std::function<void(std::string bytes, bool end)> deliver) override {
    std::unique_lock lock(mu_);
    if (failed_) {
      lock.unlock();
      return deliver("", true);
    }
    // Until the hash matched, the last byte stays behind.
    std::uint64_t limit = verified_ ? written_ : std::min(written_, length_ > 0 ? length_ - 1 : 0);
    if (sent_ >= limit) {
      if (verified_) {
        lock.unlock();
        return deliver("", true);
      }
      waiting_ = std::move(deliver);
      return;
    }
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(limit - sent_, kStreamChunk));
    std::string chunk(n, '\0');
    ssize_t got = ::pread(writer_->read_fd(), chunk.data(), n, static_cast<off_t>(sent_));
    if (got <= 0) {
      failed_ = true;
      lock.unlock();
      return deliver("", true);
    }
    chunk.resize(static_cast<std::size_t>(got));
    sent_ += static_cast<std::uint64_t>(got);
    bool end = verified_ && sent_ == written_;
    lock.unlock();
    deliver(std::move(chunk), end);
  }

  void Cancel() override {
    std::lock_guard lock(mu_);
    waiting_ = nullptr;  // the download goes on: the next client gets it from the cache
  }

 private:
  bool OnHead(const net::HttpResponse& head) {
    const std::string* encoding = head.Header("content-encoding");
    if (encoding != nullptr && *encoding != "identity") {
      failure_ = fmt::format("{}: the upstream sent it {}-encoded", label_, *encoding);
      return false;
    }
    const std::string* length = head.Header("content-length");
    std::uint64_t announced = 0;
    if (length == nullptr ||
        std::from_chars(length->data(), length->data() + length->size(), announced).ec != std::errc() ||
        announced == 0) {
      // Without a length the client could not tell a cut transfer from a whole one: it is
      // answered once the file is whole and checked.
      return true;
    }
    {
      std::lock_guard lock(mu_);
      length_ = announced;
    }
    Respond(announced);
    return true;
  }

  void Respond(std::uint64_t length) {
    responded_ = true;
    ServerResponse response;
    response.content_type = "application/octet-stream";
    response.stream = shared_from_this();
    response.stream_length = length;
    gateway_.Warn(response, *call_, warnings_);
    call_->respond(std::move(response));
  }

  bool OnBody(std::string_view piece) {
    if (auto s = writer_->Append(piece); !s.ok()) {
      failure_ = s.message();
      return false;
    }
    if (check_) check_->Update(piece);
    std::lock_guard lock(mu_);
    written_ = writer_->written();
    if (length_ > 0 && written_ > length_) return false;
    Wake();
    return true;
  }

  void OnDone(core::Result<net::HttpResponse> result) {
    std::string failure = failure_;
    if (failure.empty() && !result.ok()) failure = result.status().message();
    if (failure.empty() && result->status / 100 != 2) {
      if (!responded_) {
        int status = result->status == 404 || result->status == 410 ? 404 : 502;
        return gateway_.Fail(*call_, status,
                             fmt::format("{}: the upstream answered {}", label_, result->status));
      }
      failure = fmt::format("the upstream answered {}", result->status);
    }
    if (failure.empty() && check_ && !check_->Finish()) {
      gateway_.events_.Add(fmt::format("event=\"integrity_mismatch\""));
      failure = fmt::format("its bytes do not match the published hash (published {}, received {})",
                            check_->expected(), check_->actual());
    }
    if (failure.empty() && length_ > 0 && writer_->written() != length_) failure = "shorter than announced";
    if (!failure.empty()) {
      core::Log(core::LogLevel::kError, "gateway", "{}: transfer aborted, not cached: {}", label_, failure);
      gateway_.events_.Add("event=\"file_aborted\"");
      if (!responded_) return gateway_.Fail(*call_, 502, fmt::format("{}: {}", label_, failure));
      std::lock_guard lock(mu_);
      failed_ = true;
      Wake();
      return;
    }
    if (check_) {
      if (auto s = writer_->Commit(); !s.ok())
        core::Log(core::LogLevel::kWarn, "gateway", "{}: not cached: {}", label_, s.message());
    }
    gateway_.events_.Add("event=\"file_fetched\"");
    {
      std::lock_guard lock(mu_);
      verified_ = true;
      if (length_ == 0) length_ = written_;
    }
    if (!responded_) {
      if (writer_->written() == 0) {  // an empty file: nothing to stream
        ServerResponse response;
        response.content_type = "application/octet-stream";
        return call_->respond(std::move(response));
      }
      return Respond(writer_->written());
    }
    std::lock_guard lock(mu_);
    Wake();
  }

  // With mu_ held: a client waiting for bytes gets what there is now.
  void Wake() {
    if (!waiting_) return;
    auto deliver = std::move(waiting_);
    waiting_ = nullptr;
    // Next takes the lock itself: run it after this caller lets go, on the executor.
    gateway_.executor_.PostUrgent([self = shared_from_this(), deliver = std::move(deliver)]() mutable {
      self->Next(std::move(deliver));
    });
  }

  Gateway::Impl& gateway_;
  std::string label_;
  std::optional<IntegrityCheck> check_;
  std::unique_ptr<FileCache::Writer> writer_;
  Gateway::Impl::CallPtr call_;
  std::vector<std::string> warnings_;
  std::string failure_;     // set by the sink when it abandons the transfer
  bool responded_ = false;  // on the HTTP client's thread only
  std::mutex mu_;
  std::uint64_t length_ = 0, written_ = 0, sent_ = 0;
  bool verified_ = false, failed_ = false;
  std::function<void(std::string, bool)> waiting_;
};

void Gateway::Impl::ServeFile(FileToServe file, CallPtr call, std::vector<std::string> warnings) {
  std::string key = file.check ? FileCache::KeyFor(file.check->expected()) : "";
  if (!key.empty()) {
    ServerResponse response;
    response.content_type = "application/octet-stream";
    if (auto hot = hot_.Find(key)) {
      file_cache_hits_.fetch_add(1, std::memory_order_relaxed);
      Warn(response, *call, warnings);
      response.shared_body = std::move(hot);
      return call->respond(std::move(response));
    }
    if (auto opened = files_->Open(key)) {
      file_cache_hits_.fetch_add(1, std::memory_order_relaxed);
      Warn(response, *call, warnings);
      if (opened->size <= kWholeFileBytes) {
        auto bytes = std::make_shared<std::string>(static_cast<std::size_t>(opened->size), '\0');
        ssize_t n = ::pread(opened->fd, bytes->data(), bytes->size(), 0);
        ::close(opened->fd);
        if (n != static_cast<ssize_t>(opened->size)) return Fail(*call, 500, "cannot read the cached file");
        hot_.Put(key, bytes);
        response.shared_body = std::move(bytes);
      } else {
        response.stream = std::make_shared<CachedFileStream>(opened->fd, opened->size);
        response.stream_length = opened->size;
      }
      return call->respond(std::move(response));
    }
  }
  auto writer = files_->Begin(key.empty() ? FileCache::KeyFor(file.url) : key);
  if (!writer.ok()) return Fail(*call, 503, writer.status().message());
  auto download = std::make_shared<Download>(*this, file.name, std::move(file.check),
                                             std::move(writer).value(), call, std::move(warnings));
  download->Start(file.url);
}

// ------------------------------------------------------------------ metrics

void Gateway::Impl::AppendPrometheus(std::string& out) const {
  core::AppendPrometheusHeader(out, "pkgtrust_gateway_requests_total", "counter",
                               "Registry gateway answers by ecosystem and status.");
  requests_.Append(out, "pkgtrust_gateway_requests_total");
  core::AppendPrometheusHeader(
      out, "pkgtrust_gateway_decisions_total", "counter",
      "Policy decisions that were not a plain allow: versions or files refused (block), warned (warn), or "
      "let through in monitor mode (monitor), by rule.");
  decisions_.Append(out, "pkgtrust_gateway_decisions_total");
  core::AppendPrometheusHeader(out, "pkgtrust_gateway_events_total", "counter",
                               "Gateway events: metadata cache hits, revalidations, stale answers, upstream "
                               "failures, files fetched, cache hits, integrity mismatches, submissions.");
  events_.Append(out, "pkgtrust_gateway_events_total");
  core::AppendPrometheusSample(out, "pkgtrust_gateway_events_total", "event=\"metadata_hit\"",
                               static_cast<double>(metadata_hits_.load(std::memory_order_relaxed)));
  core::AppendPrometheusSample(out, "pkgtrust_gateway_events_total", "event=\"file_cache_hit\"",
                               static_cast<double>(file_cache_hits_.load(std::memory_order_relaxed)));
  FileCacheStats stats = files_->Stats();
  core::AppendPrometheusHeader(out, "pkgtrust_gateway_file_cache_bytes", "gauge",
                               "Bytes of package files in the gateway's cache.");
  core::AppendPrometheusSample(out, "pkgtrust_gateway_file_cache_bytes", "",
                               static_cast<double>(stats.bytes));
  core::AppendPrometheusHeader(out, "pkgtrust_gateway_file_cache_evictions_total", "counter",
                               "Files evicted from the gateway's cache past its size limit.");
  core::AppendPrometheusSample(out, "pkgtrust_gateway_file_cache_evictions_total", "",
                               static_cast<double>(stats.evicted));
  core::AppendPrometheusHeader(out, "pkgtrust_gateway_metadata_cache_bytes", "gauge",
                               "Bytes of upstream metadata in the gateway's cache.");
  core::AppendPrometheusSample(out, "pkgtrust_gateway_metadata_cache_bytes", "",
                               static_cast<double>(metadata_.bytes()));
}

// ------------------------------------------------------------------ Gateway

core::Result<std::unique_ptr<Gateway>> Gateway::Create(GatewayConfig config, store::Store& store,
                                                       pipeline::Pipeline* pipeline,
                                                       const scoring::PopularPackages* popular,
                                                       net::HttpClient& http, core::Executor& executor,
                                                       const core::Clock& clock) {
  auto files = FileCache::OpenFolder(config.files);
  if (!files.ok()) return files.status();
  auto impl = std::make_unique<Impl>(std::move(config), store, pipeline, popular, http, executor, clock,
                                     std::move(files).value());
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() = default;
void Gateway::SetRecorder(std::function<void(AnsweredRequest)> recorder) {
  impl_->SetRecorder(std::move(recorder));
}

void Gateway::Handle(api::ServerRequest request, api::Responder respond) {
  impl_->Handle(std::move(request), std::move(respond));
}
void Gateway::AppendPrometheus(std::string& out) const { impl_->AppendPrometheus(out); }
FileCacheStats Gateway::FileStats() const { return impl_->FileStats(); }

}  // namespace pkgtrust::gateway
