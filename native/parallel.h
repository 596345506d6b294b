// A small persistent thread pool for kernels. Tasks are claimed dynamically (the
// caller claims too), so no thread ever waits on a descheduled one: on a 2-core
// machine shared with neighbours a static split or a spinning barrier stalls
// for milliseconds whenever a core is taken. Idle threads spin for 200 µs (the
// gap between two kernels of a forward pass), then sleep on a condition variable.
#pragma once

#include <cstdint>
#include <functional>

namespace pensieve {

// Calls fn(begin, end) on disjoint ranges covering [0, n), split into at most
// num_threads() contiguous ranges of at least `grain` items. Runs inline when
// one range suffices. Not reentrant: kernels must not nest parallel_for.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

// Calls fn(thread_index, num_tasks) once for each task index in [0, tasks)
// on the pool; tasks <= num_threads() is the usual case.
void parallel_tasks(int tasks, const std::function<void(int)>& fn);

int num_threads();
void set_num_threads(int n);  // n <= 0: one per hardware thread

}  // namespace pensieve
