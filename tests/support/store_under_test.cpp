#include "support/store_under_test.hpp"

#include <sqlite3.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <random>

#include "support/postgres_admin.hpp"

namespace pkgtrust::testing {
namespace {

void ExecPostgres(const std::string& url, const std::string& sql) {
  PostgresAnswer answer = RunPostgresStatement(url, sql);
  INFO(sql << ": " << answer.error);
  REQUIRE(answer.ok);
}

}  // namespace

bool TestingPostgres() {
  const char* kind = std::getenv("PKGTRUST_TEST_STORE");
  return kind && std::string(kind) == "postgres";
}

std::string TestPostgresServer() {
  const char* url = std::getenv("PKGTRUST_TEST_POSTGRES");
  INFO(
      "PKGTRUST_TEST_POSTGRES is not set: run the PostgreSQL tests through tests/scripts/with_postgres.sh "
      "(ctest and scripts/test.sh do)");
  REQUIRE(url != nullptr);
  return url;
}

StoreUnderTest::StoreUnderTest() : StoreUnderTest(TestingPostgres()) {}

StoreUnderTest::StoreUnderTest(bool postgres) : postgres_(postgres) {
  if (!postgres_) {
    path_ = dir_.File("store.db");
    return;
  }
  std::string server = TestPostgresServer();
  std::random_device random;
  database_ = "pkgtrust_test_" + std::to_string(random()) + "_" + std::to_string(random());
  ExecPostgres(server, "CREATE DATABASE " + database_);
  // In a libpq connection string a keyword given twice takes its last value.
  url_ = server + " dbname=" + database_;
}

StoreUnderTest::~StoreUnderTest() {
  if (!postgres_ || database_.empty()) return;
  const char* server = std::getenv("PKGTRUST_TEST_POSTGRES");
  if (!server) return;
  (void)RunPostgresStatement(server, "DROP DATABASE " + database_ + " WITH (FORCE)");
}

store::StoreConfig StoreUnderTest::Config(int read_connections) const {
  store::StoreConfig config;
  config.read_connections = read_connections;
  if (postgres_) {
    config.kind = store::StoreKind::kPostgres;
    config.postgres_url = url_;
    config.reconnect_timeout_ms = 20'000;
  } else {
    config.path = path_;
  }
  return config;
}

std::unique_ptr<store::Store> StoreUnderTest::Open(const core::Clock& clock, int read_connections) const {
  auto opened = store::Store::Open(Config(read_connections), clock);
  INFO(opened.status().message());
  REQUIRE(opened.ok());
  return std::move(opened).value();
}

void StoreUnderTest::Exec(const std::string& sql) const {
  if (postgres_) {
    ExecPostgres(url_, sql);
    return;
  }
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path_.c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  std::string message = error ? error : "";
  sqlite3_free(error);
  sqlite3_close(db);
  INFO(sql << ": " << message);
  REQUIRE(rc == SQLITE_OK);
}

}  // namespace pkgtrust::testing
