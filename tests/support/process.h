// Running the real `cove` binary from tests.
#pragma once

#include <string>
#include <vector>

namespace cove::testing {

struct ProcessResult {
  int exit_code = -1;   // -1 when killed by a signal
  int signal = 0;       // the signal that ended it, if any
  std::string out;      // stdout
  std::string err;      // stderr
};

// Runs the cove binary with `args` (no shell), feeding `stdin_text` to its standard input.
ProcessResult run_cove(const std::vector<std::string>& args, const std::string& stdin_text = "");

}  // namespace cove::testing
