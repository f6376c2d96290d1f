// A fresh, empty PostgreSQL schema in the test cluster (scripts/pg-test-cluster.sh), one per test, dropped after it.
#pragma once

#include <memory>
#include <string>

#include "mayfly/error.h"

namespace mayfly::testing {

class PgTestSchema {
 public:
  // "" when the test cluster is configured (MAYFLY_TEST_PG_URL and
  // MAYFLY_TEST_PG_PASSWORD_FILE set), else why not and how to start it.
  static std::string NotConfigured();
  // True when PostgreSQL tests must run rather than be skipped
  // (MAYFLY_TEST_PG_REQUIRED=1, as scripts/test.sh and CI set).
  static bool Required();

  // Creates a schema with a random name in the test database.
  [[nodiscard]] static Result<std::unique_ptr<PgTestSchema>> Create();
  ~PgTestSchema();

  // A libpq URI whose connections work in this schema (search_path).
  const std::string& url() const { return url_; }
  const std::string& password_file() const { return password_file_; }
  const std::string& name() const { return name_; }

  // Runs SQL in the schema as the test role, behind the store's back.
  [[nodiscard]] Result<void> Exec(const std::string& sql) const;
  // The first column of the first row `sql` returns ("" for none or NULL).
  [[nodiscard]] Result<std::string> QueryValue(const std::string& sql) const;

 private:
  PgTestSchema(std::string name, std::string url, std::string password_file)
      : name_(std::move(name)), url_(std::move(url)), password_file_(std::move(password_file)) {}

  std::string name_;
  std::string url_;
  std::string password_file_;
};

}  // namespace mayfly::testing
