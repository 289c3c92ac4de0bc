// The change stream's query string (GET /v1/changes?...): decoded as the API decodes it,
// then the filter.
#include <map>

#include "fuzz_support.hpp"
#include "pkgtrust/api/change_stream.hpp"
#include "pkgtrust/core/percent_encoding.hpp"

using namespace pkgtrust;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::map<std::string, std::string> params;
  for (std::string_view pair : fuzz::SplitParts(fuzz::AsText(data, size), "&")) {
    auto eq = pair.find('=');
    auto name = core::PercentDecode(pair.substr(0, eq), true);
    auto value = core::PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!name.ok() || !value.ok()) return 0;
    params[*name] = *value;
  }
  auto filter = api::ChangeFilter::FromParams(params);
  if (filter.ok()) {
    store::PackageChange change;
    change.key = {core::Ecosystem::kNpm, "left-pad"};
    change.score = 4.5;
    change.flags_json = R"({"malicious":false,"typosquatting":true})";
    (void)filter->Matches(change);
  }
  return 0;
}
