// The store a conformance test runs on. The same tests run on both implementations:
// SQLite in a temporary folder by default, and PostgreSQL when PKGTRUST_TEST_STORE is
// "postgres": then each StoreUnderTest is a new database in the throwaway cluster that
// tests/scripts/with_postgres.sh starts (PKGTRUST_TEST_POSTGRES holds its connection
// string), dropped at the end.
#pragma once

#include <memory>
#include <string>

#include "pkgtrust/core/clock.hpp"
#include "pkgtrust/store/store.hpp"
#include "support/test_support.hpp"

namespace pkgtrust::testing {

// The kind the conformance tests run on (PKGTRUST_TEST_STORE), sqlite unless it says postgres.
bool TestingPostgres();
// PKGTRUST_TEST_POSTGRES, or a failed REQUIRE naming what to run.
std::string TestPostgresServer();

class StoreUnderTest {
 public:
  StoreUnderTest();
  explicit StoreUnderTest(bool postgres);
  ~StoreUnderTest();
  StoreUnderTest(const StoreUnderTest&) = delete;
  StoreUnderTest& operator=(const StoreUnderTest&) = delete;

  bool postgres() const { return postgres_; }
  // The configuration that opens this database (a file, or a connection string).
  store::StoreConfig Config(int read_connections = 2) const;
  // Opens it; a failure fails the test.
  std::unique_ptr<store::Store> Open(const core::Clock& clock, int read_connections = 2) const;
  // Runs SQL on the database beside the store (a trigger, a row from the future).
  void Exec(const std::string& sql) const;
  // The newest schema version of this kind.
  int LatestSchemaVersion() const { return postgres_ ? 2 : 8; }
  const std::string& url() const { return url_; }
  const std::string& path() const { return path_; }

 private:
  bool postgres_;
  TempDir dir_;
  std::string path_;      // sqlite
  std::string database_;  // postgres
  std::string url_;
};

}  // namespace pkgtrust::testing
