// Copies a SQLite store into a PostgreSQL one (`pkgtrust migrate-store`): the packages with
// their state, the facts, the advisories, the repositories and the change log. The copy
// goes a chunk at a time, each chunk one transaction, so an interrupted copy continues where
// it stopped when run again; at the end the row counts of both sides are compared.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pkgtrust/core/status.hpp"

namespace pkgtrust::store {

struct CopiedTable {
  std::string name;
  std::int64_t source_rows = 0;  // in the SQLite file
  std::int64_t target_rows = 0;  // in PostgreSQL after the copy
  std::int64_t copied = 0;       // written by this run (0 for what an earlier run copied)
};

// Called after each chunk with the table and the rows of it copied so far by this run.
using CopyProgress = std::function<void(const std::string& table, std::int64_t copied, std::int64_t total)>;

// Fails, naming the table and both counts, when the counts differ at the end (for example
// when the PostgreSQL database already held other packages). Stop the services writing
// the SQLite file first.
core::Result<std::vector<CopiedTable>> CopySqliteToPostgres(const std::string& sqlite_path,
                                                            const std::string& postgres_url,
                                                            const CopyProgress& progress = nullptr,
                                                            std::size_t chunk_rows = 1000);

}  // namespace pkgtrust::store
