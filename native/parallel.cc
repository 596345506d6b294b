#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace pensieve {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

using Clock = std::chrono::steady_clock;

// How long a thread waits actively before it sleeps: longer than the gap between two kernels
// of one forward pass (a few small ops run in JS between matmuls), far shorter than the
// pauses between steps. A sleeping worker costs a futex wake (10-50 µs with a busy neighbour)
// at the start of every kernel; a decode step runs ~100 kernels of 50-500 µs each.
constexpr auto kSpin = std::chrono::microseconds(200);

// Spins until done() or kSpin has passed; returns done().
template <class Done>
bool spin_until(const Done& done) {
  const Clock::time_point limit = Clock::now() + kSpin;
  for (int i = 1;; ++i) {
    if (done()) return true;
    cpu_relax();
    if ((i & 63) == 0 && Clock::now() >= limit) return done();
  }
}

// A job is published as one 64-bit word: generation (32 bits), task count and next unclaimed
// task (16 bits each). A worker claims a task by compare-and-swap on the whole word, so a claim
// can only succeed for the generation whose count it read — a slow worker never takes a task
// index of a job that has since been replaced. The job's function stays valid while any of its
// tasks is claimed and unfinished (the caller waits for all of them before publishing the next).
struct State {
  uint64_t word;
  uint32_t gen() const { return static_cast<uint32_t>(word >> 32); }
  int tasks() const { return static_cast<int>((word >> 16) & 0xffff); }
  int next() const { return static_cast<int>(word & 0xffff); }
  static uint64_t make(uint32_t gen, int tasks, int next) {
    return (uint64_t{gen} << 32) | (static_cast<uint64_t>(tasks) << 16) | static_cast<uint64_t>(next);
  }
};
constexpr int kMaxTasksPerJob = 0xffff;

class ThreadPool {
 public:
  explicit ThreadPool(int n) { resize(n); }
  ~ThreadPool() { stop_workers(); }

  int size() const { return static_cast<int>(workers_.size()) + 1; }  // + the caller

  void resize(int n) {
    stop_workers();
    stop_.store(false);
    for (int i = 1; i < n; ++i) workers_.emplace_back([this] { worker_loop(); });
  }

  // Runs fn(t) for t in [0, tasks): task 0 on the calling thread, the rest claimed by whichever
  // thread (workers or the caller) gets to them first.
  void run(int tasks, const std::function<void(int)>& fn) {
    if (tasks <= 1 || workers_.empty()) {
      for (int t = 0; t < tasks; ++t) fn(t);
      return;
    }
    for (int base = 0; base < tasks; base += kMaxTasksPerJob) {
      const int n = std::min(kMaxTasksPerJob, tasks - base);
      if (base == 0) run_job(n, fn);
      else run_job(n, [&](int t) { fn(base + t); });
    }
  }

 private:
  void run_job(int tasks, const std::function<void(int)>& fn) {
    job_ = &fn;
    pending_.store(tasks - 1, std::memory_order_relaxed);
    const uint32_t gen = ++generation_;
    state_.store(State::make(gen, tasks, 1), std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      wake_.notify_all();
    }
    fn(0);
    // The caller drains tasks too, so a descheduled worker never holds the job up.
    while (claim_and_run(gen)) {
    }
    if (!spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; })) {
      std::unique_lock<std::mutex> lock(mu_);
      caller_sleeping_.store(true, std::memory_order_seq_cst);
      // seq_cst with the store above and the workers' fetch_sub then load of caller_sleeping_:
      // either the caller sees the count reach 0, or the last worker sees it sleeping.
      done_.wait(lock, [&] { return pending_.load(std::memory_order_seq_cst) == 0; });
      caller_sleeping_.store(false, std::memory_order_relaxed);
    }
  }

  // Claims one task of generation `gen` and runs it; false when none is left.
  bool claim_and_run(uint32_t gen) {
    uint64_t word = state_.load(std::memory_order_acquire);
    for (;;) {
      const State s{word};
      if (s.gen() != gen || s.next() >= s.tasks()) return false;
      if (state_.compare_exchange_weak(word, State::make(gen, s.tasks(), s.next() + 1), std::memory_order_acq_rel)) {
        (*job_)(s.next());
        if (pending_.fetch_sub(1, std::memory_order_seq_cst) == 1 && caller_sleeping_.load(std::memory_order_seq_cst)) {
          std::lock_guard<std::mutex> lock(mu_);
          done_.notify_one();
        }
        return true;
      }
    }
  }

  void worker_loop() {
    uint32_t seen = State{state_.load()}.gen();
    for (;;) {
      // seq_cst loads: paired with sleepers_ below and the caller's publish-then-check, so a job
      // published while this worker goes to sleep is either seen here or gets it notified.
      auto fresh = [&] { return stop_.load(std::memory_order_seq_cst) || State{state_.load(std::memory_order_seq_cst)}.gen() != seen; };
      if (!spin_until(fresh)) {
        std::unique_lock<std::mutex> lock(mu_);
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        wake_.wait(lock, fresh);
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
      }
      if (stop_.load(std::memory_order_acquire)) return;
      seen = State{state_.load(std::memory_order_acquire)}.gen();
      while (claim_and_run(seen)) {
      }
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_.store(true);
    }
    wake_.notify_all();
    for (auto& w : workers_) w.join();
    workers_.clear();
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* job_ = nullptr;
  std::atomic<uint64_t> state_{0};
  std::atomic<int> pending_{0}, sleepers_{0};
  std::atomic<bool> caller_sleeping_{false}, stop_{false};
  uint32_t generation_ = 0;
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
