// One statement on a PostgreSQL server, outside any store: the tests and the benchmarks
// make and drop their databases with it (the binaries that include it link libpq).
#pragma once

#include <libpq-fe.h>

#include <string>

namespace pkgtrust::testing {

struct PostgresAnswer {
  bool ok = false;
  std::string value;  // the first row's first column, if any
  std::string error;  // the server's or libpq's message when not ok
};

inline PostgresAnswer RunPostgresStatement(const std::string& conninfo, const std::string& sql) {
  PostgresAnswer answer;
  PGconn* conn = PQconnectdb(conninfo.c_str());
  PGresult* result = PQexec(conn, sql.c_str());
  answer.ok = PQresultStatus(result) == PGRES_COMMAND_OK || PQresultStatus(result) == PGRES_TUPLES_OK;
  if (!answer.ok) answer.error = PQerrorMessage(conn);
  if (answer.ok && PQntuples(result) > 0 && PQnfields(result) > 0) answer.value = PQgetvalue(result, 0, 0);
  PQclear(result);
  PQfinish(conn);
  return answer;
}

}  // namespace pkgtrust::testing
