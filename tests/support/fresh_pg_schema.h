// A fresh PostgreSQL schema for one test, or the test skipped (failed when
// MAYFLY_TEST_PG_REQUIRED=1) when the test cluster is not configured.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "support/pg_test_schema.h"

namespace mayfly::testing {

// Call from SetUp: null when the test is skipped or failed (gtest then runs
// no test body), else a schema dropped with the returned object.
inline std::unique_ptr<PgTestSchema> FreshPgSchemaOrSkip() {
  if (std::string why = PgTestSchema::NotConfigured(); !why.empty()) {
    if (PgTestSchema::Required()) {
      ADD_FAILURE() << why;
    } else {
      [&] { GTEST_SKIP() << why; }();
    }
    return nullptr;
  }
  auto schema = PgTestSchema::Create();
  if (!schema) {
    ADD_FAILURE() << schema.error().ToString();
    return nullptr;
  }
  return std::move(*schema);
}

}  // namespace mayfly::testing
