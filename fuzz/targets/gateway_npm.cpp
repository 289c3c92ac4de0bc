// The gateway's npm side on hostile input: the metadata filter on whatever an upstream might
// answer (both forms, with a decision that refuses some versions and warns on others, by the
// version's first byte), the files a packument publishes, and the audit endpoint on
// whatever a client might send.
#include "fuzz_support.hpp"
#include "gateway_fuzz_support.hpp"
#include "pkgtrust/gateway/file_index.hpp"
#include "pkgtrust/gateway/npm_audit.hpp"
#include "pkgtrust/gateway/npm_metadata.hpp"
#include "pkgtrust/gateway/requests.hpp"

using namespace pkgtrust;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text = fuzz::AsText(data, size);
  auto decide = fuzz::DecideByFirstByte;
  for (auto form : {gateway::NpmForm::kFull, gateway::NpmForm::kAbbreviated})
    (void)gateway::FilterNpmPackument(text, form, "https://registry.npmjs.org/",
                                      "http://127.0.0.1/registry/npm/", decide);
  (void)gateway::AnswerNpmAuditBulk(text, [](const core::PackageKey& key) {
    scoring::OsvAffected affected;
    affected.versions = {key.name};
    return core::Result<std::vector<gateway::PackageKnowledge::Advisory>>(
        std::vector<gateway::PackageKnowledge::Advisory>{{"MAL-1", key.name, affected}, {"MAL-2", "", {}}});
  });
  (void)gateway::ReadNpmFiles(text);
  (void)gateway::ParseNpmRequest(text);
  return 0;
}
