#include "core/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <new>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define COVE_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define COVE_CPU_RELAX() asm volatile("yield")
#else
#define COVE_CPU_RELAX() std::this_thread::yield()
#endif

namespace cove {
namespace {

constexpr auto kSpinTime = std::chrono::microseconds(1000);

}  // namespace

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(std::max(1, n_threads)), scratch_(static_cast<size_t>(n_threads_) + 1) {
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
  for (Scratch& s : scratch_) std::free(s.data);
}

void* ThreadPool::grow(Scratch& s, size_t bytes) {
  if (bytes <= s.bytes) return s.data;
  std::free(s.data);
  const size_t rounded = (bytes + 63) / 64 * 64;
  s.data = std::aligned_alloc(64, rounded);
  if (s.data == nullptr) throw std::bad_alloc();
  s.bytes = rounded;
  return s.data;
}

void* ThreadPool::worker_scratch(int index, size_t bytes) {
  return grow(scratch_[static_cast<size_t>(index)], bytes);
}

void* ThreadPool::shared_scratch(size_t bytes) { return grow(scratch_.back(), bytes); }

int ThreadPool::default_threads() {
  // Count distinct (physical id, core id) pairs in /proc/cpuinfo.
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::set<std::pair<std::string, std::string>> cores;
  std::string line, physical = "0";
  while (std::getline(cpuinfo, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (line.rfind("physical id", 0) == 0) physical = value;
    if (line.rfind("core id", 0) == 0) cores.insert({physical, value});
  }
  if (!cores.empty()) return static_cast<int>(cores.size());
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

void ThreadPool::run_share(int index) {
  // Split [0, n) into n_threads_ shares of whole grains.
  const int64_t n_grains = (job_n_ + job_grain_ - 1) / job_grain_;
  const int64_t per = n_grains / n_threads_, extra = n_grains % n_threads_;
  const int64_t first = index * per + std::min<int64_t>(index, extra);
  const int64_t count = per + (index < extra ? 1 : 0);
  const int64_t begin = first * job_grain_;
  const int64_t end = std::min(job_n_, (first + count) * job_grain_);
  if (begin < end) (*job_)(begin, end, index);
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Spin for a while, then sleep until the next job.
    auto spin_until = std::chrono::steady_clock::now() + kSpinTime;
    int spins = 0;
    while (generation_.load() == seen && !stopping_.load()) {
      COVE_CPU_RELAX();
      // Yield now and then: on an oversubscribed machine the thread we wait for may need
      // this core.
      if (++spins % 64 == 0) std::this_thread::yield();
      if (spins % 256 == 0 && std::chrono::steady_clock::now() > spin_until) {
        std::unique_lock<std::mutex> lock(mutex_);
        ++sleepers_;
        wake_.wait(lock, [&] { return generation_.load() != seen || stopping_.load(); });
        --sleepers_;
        spin_until = std::chrono::steady_clock::now() + kSpinTime;
      }
    }
    if (stopping_.load()) return;
    seen = generation_.load();
    run_share(index);
    pending_.fetch_sub(1);
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  if (n_threads_ == 1 || n <= grain) {
    fn(0, n, 0);
    return;
  }
  job_ = &fn;
  job_n_ = n;
  job_grain_ = grain;
  pending_.store(n_threads_ - 1);
  generation_.fetch_add(1);  // publishes the job (sequentially consistent)
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(mutex_);
    wake_.notify_all();
  }
  run_share(0);
  for (int spins = 1; pending_.load() != 0; ++spins) {
    COVE_CPU_RELAX();
    if (spins % 64 == 0) std::this_thread::yield();
  }
  job_ = nullptr;
}

}  // namespace cove
