// The bandwidth kernel's dispatch, and the timing helpers of `cove bench`.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "runtime/bench.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "runtime/bench-inl.h"

#if HWY_ONCE
#include <sys/mman.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>

#include "core/thread_pool.h"
#include "runtime/bench.h"

namespace cove::runtime {

HWY_EXPORT(SumWords);

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

}  // namespace

Summary summarize(std::span<const double> samples) {
  Summary s;
  if (samples.empty()) return s;
  double sum = 0.0;
  for (double x : samples) sum += x;
  s.mean = sum / static_cast<double>(samples.size());
  if (samples.size() > 1) {
    double squares = 0.0;
    for (double x : samples) squares += (x - s.mean) * (x - s.mean);
    s.stddev = std::sqrt(squares / static_cast<double>(samples.size() - 1));
  }
  return s;
}

double median(std::vector<double> samples) {
  if (samples.empty()) return 0.0;
  std::sort(samples.begin(), samples.end());
  const size_t mid = samples.size() / 2;
  return samples.size() % 2 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2.0;
}

std::vector<int32_t> random_tokens(int64_t n, int64_t n_vocab, int32_t bos, uint64_t seed) {
  std::vector<int32_t> tokens(static_cast<size_t>(std::max<int64_t>(n, 0)));
  uint64_t state = seed;
  for (int32_t& t : tokens) {
    // splitmix64
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    t = static_cast<int32_t>(z % static_cast<uint64_t>(n_vocab));
  }
  if (!tokens.empty() && bos >= 0) tokens[0] = bos;
  return tokens;
}

Result<double> time_prompt(model::Transformer& transformer, std::span<const int32_t> tokens) {
  if (static_cast<int64_t>(tokens.size()) > transformer.n_batch()) {
    return Error{"a prompt of " + std::to_string(tokens.size()) +
                 " tokens does not fit one batch of " + std::to_string(transformer.n_batch())};
  }
  std::vector<float> logits;
  transformer.truncate(0);
  const Clock::time_point start = Clock::now();
  if (Status s = transformer.eval(tokens, false, logits); !s) return Error{s.message()};
  return seconds_since(start);
}

Result<double> time_generation(model::Transformer& transformer, std::span<const int32_t> tokens) {
  std::vector<float> logits;
  transformer.truncate(0);
  const Clock::time_point start = Clock::now();
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (Status s = transformer.eval(tokens.subspan(i, 1), false, logits); !s) {
      return Error{s.message()};
    }
  }
  return seconds_since(start);
}

uint64_t sum_words(const uint64_t* data, size_t n) {
  return HWY_DYNAMIC_DISPATCH(SumWords)(data, n);
}

uint64_t sum_words_reference(const uint64_t* data, size_t n) {
  uint64_t total = 0;
  for (size_t i = 0; i < n; ++i) total += data[i];
  return total;
}

Bandwidth measure_read_bandwidth(size_t buffer_bytes, int n_threads, int passes) {
  Bandwidth result;
  result.n_threads = n_threads > 0 ? n_threads : ThreadPool::default_threads();
  ThreadPool pool(result.n_threads);
  // Shares are whole 4 KiB pages so that each thread reads its own pages.
  constexpr size_t kPage = 4096;
  constexpr int64_t kWordsPerPage = kPage / sizeof(uint64_t);
  const size_t n_pages = std::max<size_t>(1, buffer_bytes / kPage);
  result.buffer_bytes = n_pages * kPage;
  // 2 MiB alignment and huge pages where the kernel offers them: fewer TLB misses, so the
  // figure is the memory's, not the page walker's.
  constexpr size_t kHugePage = size_t{2} << 20;
  const size_t allocated = (result.buffer_bytes + kHugePage - 1) / kHugePage * kHugePage;
  std::unique_ptr<uint64_t, FreeDeleter> buffer(
      static_cast<uint64_t*>(std::aligned_alloc(kHugePage, allocated)));
  if (!buffer) return result;
  madvise(buffer.get(), allocated, MADV_HUGEPAGE);
  uint64_t* words = buffer.get();
  // Writing every page first maps it (from the thread that will read it, for NUMA machines).
  pool.parallel_for(static_cast<int64_t>(n_pages), 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t w = begin * kWordsPerPage; w < end * kWordsPerPage; ++w) {
      words[w] = static_cast<uint64_t>(w) * 0x9E3779B97F4A7C15ull;
    }
  });
  std::vector<uint64_t> sums(static_cast<size_t>(pool.n_threads()));
  uint64_t checksum = 0;
  double timed_wall = 0.0, timed_cpu = 0.0;
  for (int pass = 0; pass < passes + 1; ++pass) {  // the first pass warms up, unreported
    const double cpu_start = process_cpu_seconds();
    const Clock::time_point start = Clock::now();
    pool.parallel_for(static_cast<int64_t>(n_pages), 1, [&](int64_t begin, int64_t end, int t) {
      sums[static_cast<size_t>(t)] += sum_words(words + begin * kWordsPerPage,
                                                static_cast<size_t>((end - begin) * kWordsPerPage));
    });
    const double seconds = seconds_since(start);
    if (pass > 0) {
      result.samples.push_back(static_cast<double>(result.buffer_bytes) / seconds / 1e9);
      timed_wall += seconds;
      timed_cpu += process_cpu_seconds() - cpu_start;
    }
  }
  if (timed_wall > 0) result.cpu_share = timed_cpu / (timed_wall * pool.n_threads());
  for (uint64_t s : sums) checksum += s;
  // The sums must be used, or the reads could be optimized away.
  if (checksum == 0x5eed) std::fprintf(stderr, " ");
  result.median_gb_per_s = median(result.samples);
  return result;
}

double process_cpu_seconds() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0.0;
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double load_average() {
  std::ifstream loadavg("/proc/loadavg");
  double one_minute = -1.0;
  if (!(loadavg >> one_minute)) return -1.0;
  return one_minute;
}

size_t peak_resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      // "VmHWM:     123456 kB"
      return static_cast<size_t>(std::strtoull(line.c_str() + 6, nullptr, 10)) * 1024;
    }
  }
  return 0;
}

bool reset_peak_resident() {
  std::ofstream clear_refs("/proc/self/clear_refs");
  clear_refs << "5";
  clear_refs.flush();
  return static_cast<bool>(clear_refs);
}

}  // namespace cove::runtime
#endif  // HWY_ONCE
