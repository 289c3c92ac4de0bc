// The gateway's PyPI index filter on whatever an upstream might answer: both forms, with a
// decision that refuses some versions and warns on others (by the version's first byte), the
// files a page publishes, and request paths.
#include "fuzz_support.hpp"
#include "gateway_fuzz_support.hpp"
#include "pkgtrust/gateway/file_index.hpp"
#include "pkgtrust/gateway/pypi_index.hpp"
#include "pkgtrust/gateway/requests.hpp"

using namespace pkgtrust;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text = fuzz::AsText(data, size);
  auto decide = fuzz::DecideByFirstByte;
  for (auto form : {gateway::PypiForm::kJson, gateway::PypiForm::kHtml})
    (void)gateway::FilterPypiIndex(text, form, "https://files.pythonhosted.org/",
                                   "http://127.0.0.1/registry/pypi/files/", decide);
  (void)gateway::PypiFormFor(text);
  (void)gateway::ReadPypiFiles(text);
  (void)gateway::ParsePypiRequest(text);
  return 0;
}
