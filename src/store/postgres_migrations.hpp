// Numbered schema migrations of the PostgreSQL store, applied at start, one transaction
// each. Never edit a released migration: add the next number.
#pragma once

#include "postgres.hpp"

namespace pkgtrust::store {

inline constexpr int kLatestPgSchemaVersion = 2;

// Applies every migration above the database's version. Fails on a database newer than
// this binary knows.
core::Status ApplyPgMigrations(PgConnection& conn);
int CurrentPgSchemaVersion(PgConnection& conn);

}  // namespace pkgtrust::store
