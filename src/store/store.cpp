// The store's entry point: opens the implementation the configuration names, and the
// waiting forms of the asynchronous writes, shared by both implementations.
#include "pkgtrust/store/store.hpp"

#include "postgres_store.hpp"
#include "sqlite_store.hpp"

namespace pkgtrust::store {

Result<std::unique_ptr<Store>> Store::Open(StoreConfig config, const core::Clock& clock) {
  switch (config.kind) {
    case StoreKind::kSqlite:
      return SqliteStore::Open(std::move(config), clock);
    case StoreKind::kPostgres:
      return PostgresStore::Open(std::move(config), clock);
  }
  return Status::InvalidArgument("unknown store kind");
}

Result<EnqueueResult> Store::EnqueueSync(EnqueueRequest request) {
  return WaitFor<EnqueueResult>([&](auto done) { Enqueue(std::move(request), std::move(done)); });
}

Result<TransitionResult> Store::TransitionSync(TransitionRequest request) {
  return WaitFor<TransitionResult>([&](auto done) { Transition(std::move(request), std::move(done)); });
}

Result<TransitionResult> Store::RecordFailureSync(FailureRequest request) {
  return WaitFor<TransitionResult>([&](auto done) { RecordFailure(std::move(request), std::move(done)); });
}

Result<std::vector<EnqueueResult>> Store::EnqueueManySync(std::vector<EnqueueRequest> requests) {
  return WaitFor<std::vector<EnqueueResult>>(
      [&](auto done) { EnqueueMany(std::move(requests), std::move(done)); });
}

}  // namespace pkgtrust::store
