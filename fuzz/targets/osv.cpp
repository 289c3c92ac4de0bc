// OSV records, and every version they list judged against their own ranges.
#include "pkgtrust/scoring/osv.hpp"

#include "fuzz_support.hpp"

using namespace pkgtrust;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  int skipped = 0;
  auto records = scoring::ParseOsvRecord(fuzz::AsText(data, size), &skipped);
  if (!records.ok()) return 0;
  for (const scoring::MaliciousRecord& r : *records) {
    (void)r.affected.AllVersions();
    for (const std::string& v : r.affected.versions) (void)r.affected.Affects(r.key.ecosystem, v);
    for (const auto& range : r.affected.ranges)
      for (const auto& [kind, at] : range.events) (void)r.affected.Affects(r.key.ecosystem, at);
    (void)scoring::OsvAffected::FromJson(r.affected.ToJson());
  }
  return 0;
}
