// The gateway's PyPI index filter on whatever an upstream might answer: both forms, with a
// decision that refuses some versions and warns on others (by the version's first byte), the
// files a page publishes, and request paths.
#include "fuzz_support.hpp"
#include "pkgtrust/gateway/file_index.hpp"
#include "pkgtrust/gateway/pypi_index.hpp"
#include "pkgtrust/gateway/requests.hpp"

using namespace pkgtrust;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text = fuzz::AsText(data, size);
  auto decide = [](std::string_view version, core::Millis) {
    gateway::Decision d;
    if (!version.empty() && version[0] % 3 == 0) d = {gateway::Action::kBlock, "malicious", "refused", true};
    if (!version.empty() && version[0] % 3 == 1) d = {gateway::Action::kWarn, "typosquat", "warned", false};
    return d;
  };
  for (auto form : {gateway::PypiForm::kJson, gateway::PypiForm::kHtml})
    (void)gateway::FilterPypiIndex(text, form, "https://files.pythonhosted.org/",
                                   "http://127.0.0.1/registry/pypi/files/", decide);
  (void)gateway::PypiFormFor(text);
  (void)gateway::ReadPypiFiles(text);
  (void)gateway::ParsePypiRequest(text);
  return 0;
}
