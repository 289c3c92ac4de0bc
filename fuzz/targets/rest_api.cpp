// The REST API's router with its query strings and bodies: one request per input
// ("METHOD TARGET", header lines, an empty line, the body), handled by the real Api over a
// real SQLite store and the memory transport, no HTTP server in between. Every request gets
// exactly one answer, a JSON body for every status but 200 on /metrics.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <future>

#include "fuzz_support.hpp"
#include "pkgtrust/api/api.hpp"
#include "pkgtrust/bus/memory_transport.hpp"
#include "pkgtrust/core/executor.hpp"
#include "pkgtrust/pipeline/package_lookup.hpp"
#include "pkgtrust/pipeline/pipeline.hpp"

using namespace pkgtrust;

namespace {

struct World {
  World() : transport(bus::Topology{}, {}), executor(1, "fuzz") {
    std::string path =
        (std::filesystem::temp_directory_path() / ("pkgtrust-fuzz-api-" + std::to_string(getpid()) + ".db"))
            .string();
    store = std::move(store::Store::Open({.path = path}, core::SystemClock::Instance())).value();
    pipeline = std::make_unique<pipeline::Pipeline>(
        *store, transport, executor, core::SystemClock::Instance(), pipeline::ReconcilerConfig{});
    api::ApiConfig config;
    config.default_wait = std::chrono::milliseconds(0);
    config.max_wait = std::chrono::milliseconds(0);
    config.admin_token = "admin";
    config.feed_token = "feed";
    lookup = std::make_unique<pipeline::PackageLookup>(pipeline::LookupConfig{}, *store, *pipeline, executor,
                                                       core::SystemClock::Instance());
    api = std::make_unique<api::Api>(config, *store, *pipeline, *lookup);
    api->SetReady(true);
  }
  bus::MemoryTransport transport;
  core::ThreadPoolExecutor executor;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<pipeline::Pipeline> pipeline;
  std::unique_ptr<pipeline::PackageLookup> lookup;
  std::unique_ptr<api::Api> api;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World* world = new World();  // one for the whole run (reachable at exit: no leak report)
  std::string_view text = fuzz::AsText(data, size);
  api::ServerRequest request;
  auto line_end = text.find('\n');
  std::string_view first = text.substr(0, line_end);
  text = line_end == std::string_view::npos ? std::string_view() : text.substr(line_end + 1);
  auto space = first.find(' ');
  request.method = std::string(first.substr(0, space));
  std::string_view target = space == std::string_view::npos ? "/" : first.substr(space + 1);
  auto q = target.find('?');
  request.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) request.query = std::string(target.substr(q + 1));
  while (!text.empty()) {
    auto end = text.find('\n');
    std::string_view header = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (header.empty()) break;
    auto colon = header.find(':');
    std::string name(header.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    request.headers.emplace_back(
        name, colon == std::string_view::npos ? "" : std::string(header.substr(colon + 1)));
  }
  request.body = std::string(text);
  auto answered = std::make_shared<std::promise<api::ServerResponse>>();
  auto count = std::make_shared<std::atomic<int>>(0);
  world->api->Handle(std::move(request), [answered, count](api::ServerResponse response) {
    if (count->fetch_add(1) == 0) answered->set_value(std::move(response));
  });
  auto future = answered->get_future();
  if (future.wait_for(std::chrono::seconds(20)) != std::future_status::ready) std::abort();  // never answered
  api::ServerResponse response = future.get();
  if (response.status < 100 || response.status > 599) std::abort();
  if (response.stream) response.stream->Cancel();
  return 0;
}
