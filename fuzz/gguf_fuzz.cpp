// libFuzzer target for the GGUF reader: any bytes must give a File or an Error, never a crash,
// and an accepted File must only point at bytes inside the input.
//
// Build with -DCOVE_FUZZ=ON (clang); scripts/test.sh runs it with a seed corpus made from the
// first 64 KB of shared models and vocab files, and -max_len=65536.
#include <cstddef>
#include <cstdint>
#include <span>

#include "gguf/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cove::Result<std::unique_ptr<cove::gguf::File>> file =
      cove::gguf::File::parse(std::span<const uint8_t>(data, size), "fuzz.gguf");
  if (!file.is_ok()) return 0;

  // Render every value and read the first and last byte of every tensor: with AddressSanitizer a
  // wrong size, offset or data pointer shows up here as an out-of-bounds read.
  volatile uint64_t sink = 0;
  for (const cove::gguf::KeyValue& kv : (*file)->metadata()) {
    sink = sink + kv.key.size() + kv.value.to_string().size();
  }
  for (const cove::gguf::TensorInfo& t : (*file)->tensors()) {
    sink = sink + t.data[0] + t.data[t.n_bytes - 1];
  }
  return 0;
}
