// A persistent pool of worker threads for data-parallel loops.
//
// Threads are created once; parallel_for hands each worker a contiguous share of [0, n) and
// waits for all of them. Nothing is allocated per call, so the decode loop can use it freely.
// The calling thread takes part as worker 0.
#pragma once

#include <condition_variable>
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
  void parallel_for(int64_t n, int64_t grain,
                    const std::function<void(int64_t, int64_t, int)>& fn);

  // Cores the OS reports (hardware threads); the default thread count.
  static int default_threads();

 private:
  void worker_loop(int index);
  void run_share(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable work_done_;
  const std::function<void(int64_t, int64_t, int)>* job_ = nullptr;
  int64_t job_n_ = 0;
  int64_t job_grain_ = 1;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stopping_ = false;
};

}  // namespace cove
