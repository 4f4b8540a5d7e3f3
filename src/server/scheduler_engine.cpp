// The Engine backed by runtime::Scheduler (engine.h).
#include "server/engine.h"

namespace cove::server {
namespace {

class SchedulerEngine : public Engine {
 public:
  SchedulerEngine(model::Transformer& transformer, const tokenizer::Tokenizer& tokenizer,
                  const runtime::SchedulerOptions& options)
      : scheduler_(transformer, tokenizer, options) {}

  Result<runtime::RequestId> submit(runtime::Request request,
                                    runtime::RequestCallbacks callbacks) override {
    return scheduler_.submit(std::move(request), std::move(callbacks));
  }
  void cancel(runtime::RequestId id) override { scheduler_.cancel(id); }
  void drain(std::chrono::steady_clock::time_point deadline) override {
    scheduler_.drain(deadline);
  }
  runtime::SchedulerStats stats() const override { return scheduler_.stats(); }

 private:
  runtime::Scheduler scheduler_;
};

}  // namespace

std::unique_ptr<Engine> make_scheduler_engine(model::Transformer& transformer,
                                              const tokenizer::Tokenizer& tokenizer,
                                              const runtime::SchedulerOptions& options) {
  return std::make_unique<SchedulerEngine>(transformer, tokenizer, options);
}

}  // namespace cove::server
