// Column-aligned tables for people reading command output.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace mayfly::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : rows_{std::move(headers)} {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  // Prints the header and rows with two spaces between columns.
  void Print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace mayfly::cli
