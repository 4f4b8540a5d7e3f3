// cove info MODEL.gguf: metadata and the tensor table.
#include <cstdio>
#include <memory>
#include <string>

#include "cli/commands.h"
#include "gguf/gguf.h"

namespace cove::cli {

Command add_info_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto max_items = std::make_shared<size_t>(8);
  CLI::App* sub = app.add_subcommand("info", "Print a GGUF file's metadata and tensor table");
  sub->add_option("model", *path, "GGUF file")->required();
  sub->add_option("--max-items", *max_items, "Array items shown before abbreviating");
  return [path, max_items]() {
    Result<std::unique_ptr<gguf::File>> file = gguf::File::open(*path);
    if (!file) {
      std::fprintf(stderr, "error: %s\n", file.message().c_str());
      return 1;
    }
    const gguf::File& f = **file;
    std::printf("%s: GGUF v%u, %zu metadata keys, %zu tensors, %zu bytes, alignment %lu\n",
                f.name().c_str(), f.version(), f.metadata().size(), f.tensors().size(),
                f.file_size(), static_cast<unsigned long>(f.alignment()));
    std::printf("\nmetadata:\n");
    for (const gguf::KeyValue& kv : f.metadata()) {
      std::string type(gguf::value_type_name(kv.value.type));
      if (const gguf::Array* a = kv.value.as_array()) {
        type = "array<" + std::string(gguf::value_type_name(a->element_type)) + ">[" +
               std::to_string(a->items.size()) + "]";
      }
      std::printf("  %-44s %-22s %s\n", kv.key.c_str(), type.c_str(),
                  kv.value.to_string(*max_items).c_str());
    }
    std::printf("\ntensors:\n  %-36s %-8s %-24s %12s\n", "name", "type", "shape", "bytes");
    uint64_t total = 0;
    for (const gguf::TensorInfo& t : f.tensors()) {
      std::printf("  %-36s %-8s %-24s %12lu\n", t.name.c_str(),
                  std::string(tensor::type_name(t.type)).c_str(), t.shape_string().c_str(),
                  static_cast<unsigned long>(t.n_bytes));
      total += t.n_bytes;
    }
    std::printf("  %zu tensors, %lu bytes of weights\n", f.tensors().size(),
                static_cast<unsigned long>(total));
    return 0;
  };
}

}  // namespace cove::cli
