#include "pkgtrust/gateway/knowledge.hpp"

#include "pkgtrust/scoring/model.hpp"

namespace pkgtrust::gateway {

core::Result<PackageKnowledge> KnowledgeOf(store::Store& store, const scoring::PopularPackages* popular,
                                           const core::PackageKey& key, std::int64_t own_downloads) {
  PackageKnowledge knowledge;
  knowledge.key = key;
  auto advisories = store.FindAdvisories(key);
  if (!advisories.ok()) return advisories.status();
  for (const store::Advisory& a : *advisories) {
    if (!a.withdrawn.empty()) continue;  // retracted by its publisher: never blocks
    auto affected = scoring::OsvAffected::FromColumns(a.versions, a.ranges);
    if (!affected.ok()) return affected.status();
    knowledge.advisories.push_back({a.id, a.summary, std::move(affected).value()});
  }
  if (popular)
    if (auto look_alike = popular->FindLookAlike(key, own_downloads)) knowledge.looks_like = look_alike->name;
  auto score = store.GetFact(key, store::kScoreFact);
  if (!score.ok()) return score.status();
  if (*score)
    if (auto report = scoring::Report::FromJson(**score); report.ok()) knowledge.score = report->score;
  knowledge.checked = knowledge.score.has_value();
  return knowledge;
}

}  // namespace pkgtrust::gateway
