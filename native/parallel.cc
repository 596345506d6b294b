#include "parallel.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace pensieve {

namespace {

class ThreadPool {
 public:
  explicit ThreadPool(int n) { resize(n); }
  ~ThreadPool() { stop_workers(); }

  int size() const { return static_cast<int>(workers_.size()) + 1; }  // + the caller

  void resize(int n) {
    stop_workers();
    stop_ = false;
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
  }

  // Runs fn(t) for t in [0, tasks): task 0 on the calling thread, the rest on workers.
  void run(int tasks, const std::function<void(int)>& fn) {
    if (tasks <= 1 || workers_.empty()) {
      for (int t = 0; t < tasks; ++t) fn(t);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &fn;
      tasks_ = tasks;
      next_task_ = 1;
      pending_ = tasks - 1;
      ++generation_;
    }
    wake_.notify_all();
    fn(0);
    // The caller also drains tasks if workers are slow to wake.
    for (;;) {
      int t;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (next_task_ >= tasks_) break;
        t = next_task_++;
      }
      fn(t);
      std::lock_guard<std::mutex> lock(mu_);
      --pending_;
    }
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  void worker_loop(int /*index*/) {
    uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      wake_.wait(lock, [&] { return stop_ || (generation_ != seen && next_task_ < tasks_); });
      if (stop_) return;
      seen = generation_;
      while (next_task_ < tasks_) {
        int t = next_task_++;
        const std::function<void(int)>* job = job_;
        lock.unlock();
        (*job)(t);
        lock.lock();
        if (--pending_ == 0) done_.notify_one();
      }
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* job_ = nullptr;
  int tasks_ = 0, next_task_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

int default_threads() {
  if (const char* env = std::getenv("PENSIEVE_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

ThreadPool& pool() {
  static ThreadPool p(default_threads());
  return p;
}

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) { pool().resize(n > 0 ? n : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))); }

void parallel_tasks(int tasks, const std::function<void(int)>& fn) { pool().run(tasks, fn); }

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t max_ranges = (n + grain - 1) / grain;
  int ranges = static_cast<int>(std::min<int64_t>(num_threads(), max_ranges));
  if (ranges <= 1) {
    fn(0, n);
    return;
  }
  parallel_tasks(ranges, [&](int t) {
    int64_t begin = n * t / ranges, end = n * (t + 1) / ranges;
    if (begin < end) fn(begin, end);
  });
}

}  // namespace pensieve
