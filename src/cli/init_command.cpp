// cove init: writes a commented starter config.yaml into COVE_HOME.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "assistant/config.h"
#include "cli/commands.h"
#include "cli/loaded_model.h"

namespace cove::cli {

Command add_init_command(CLI::App& app) {
  struct Options {
    bool force = false;
    std::string model_path;
  };
  auto o = std::make_shared<Options>();
  CLI::App* sub = app.add_subcommand(
      "init", "Write a commented starter config.yaml into COVE_HOME (default ~/.cove)");
  sub->add_flag("--force", o->force, "Overwrite an existing config.yaml");
  sub->add_option("-m,--model", o->model_path, "A GGUF model to configure as 'default'");
  return [o]() {
    namespace fs = std::filesystem;
    const std::string home = assistant::cove_home();
    const std::string path = assistant::default_config_path();
    std::error_code ec;
    if (fs::exists(path, ec) && !o->force) {
      return fail(path + " already exists (use --force to overwrite it)");
    }
    fs::create_directories(home, ec);
    if (ec) return fail(home + ": cannot create the folder (" + ec.message() + ")");
    std::string model;
    if (!o->model_path.empty()) {
      if (!fs::is_regular_file(o->model_path, ec)) return fail(o->model_path + ": file not found");
      model = fs::absolute(o->model_path, ec).lexically_normal().string();
    }
    // Write to a temporary file and rename, so a failure never leaves half a config behind.
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out << assistant::starter_config(model);
      out.flush();
      if (!out) {
        fs::remove(tmp, ec);
        return fail(tmp + ": cannot write");
      }
    }
    fs::rename(tmp, path, ec);
    if (ec) return fail(path + ": cannot write (" + ec.message() + ")");
    std::printf("wrote %s\n", path.c_str());
    if (model.empty()) {
      std::printf("next: add a model under models: in it, then run `cove config check`\n");
    }
    return 0;
  };
}

}  // namespace cove::cli
