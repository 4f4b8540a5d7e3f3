// A persistent pool of worker threads for data-parallel loops.
//
// Threads are created once; parallel_for hands each worker a contiguous share of [0, n) and
// waits for all of them. Nothing is allocated per call, so the decode loop can use it freely.
// The calling thread takes part as worker 0.
//
// A decode step of a small model issues a few hundred parallel loops per token, each lasting
// tens of microseconds, so waking sleeping threads through the OS for each one would cost more
// than the work. Workers therefore spin on an atomic job counter for a short while (about a
// millisecond) after each job, and only then sleep on a condition variable.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace cove {

class ThreadPool {
 public:
  // n_threads counts the caller; 1 means everything runs on the calling thread.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int n_threads() const { return n_threads_; }

  // Calls fn(begin, end, thread_index) on disjoint ranges covering [0, n), split in shares that
  // are multiples of `grain` (except the last), and returns when every share is done.
  // Not reentrant: one parallel_for at a time per pool.
  void parallel_for(int64_t n, int64_t grain,
                    const std::function<void(int64_t, int64_t, int)>& fn);

  // Physical cores when the OS says (hyper-threads share a core's SIMD units, so more threads
  // than cores only adds contention), else the hardware threads.
  static int default_threads();

  // Scratch memory owned by the pool, 64-byte aligned, grown on demand and kept between calls
  // so that kernels allocate nothing in the decode loop once warm. worker_scratch(i) belongs to
  // the worker with thread index i inside a parallel_for; shared_scratch is the caller's, for
  // data prepared before a parallel_for and read by every worker during it.
  // (Kernels keep no thread_local buffers: those outlive the pool and confuse leak checkers.)
  void* worker_scratch(int index, size_t bytes);
  void* shared_scratch(size_t bytes);

 private:
  void worker_loop(int index);
  void run_share(int index);

  struct Scratch {
    void* data = nullptr;
    size_t bytes = 0;
  };
  static void* grow(Scratch& s, size_t bytes);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::vector<Scratch> scratch_;  // one per thread index, then the shared one
  const std::function<void(int64_t, int64_t, int)>* job_ = nullptr;
  int64_t job_n_ = 0;
  int64_t job_grain_ = 1;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
};

}  // namespace cove
