// A fresh SQLite store in a temporary directory, for the store's own tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "mayfly/store.h"
#include "support/temp_dir.h"

namespace mayfly::testing {

class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  // Closes the store (when open) and opens the same file again.
  void Reopen() {
    store_.reset();
    auto store = OpenStore({.sqlite_path = path_});
    ASSERT_TRUE(store) << store.error().ToString();
    store_ = std::move(*store);
  }

  TempDir dir_;
  const std::string path_ = dir_.File("ca.db");
  std::unique_ptr<Store> store_;
};

}  // namespace mayfly::testing
