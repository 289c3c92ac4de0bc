// Numbered schema migrations, applied in order at start inside one transaction each.
// Never edit a released migration: add the next number.
#pragma once

#include "sqlite.hpp"

namespace pkgtrust::store {

inline constexpr int kLatestSchemaVersion = 8;

// Applies every migration above the database's version. Fails on a database newer
// than this binary knows.
core::Status ApplyMigrations(Connection& conn);
int CurrentSchemaVersion(Connection& conn);

}  // namespace pkgtrust::store
