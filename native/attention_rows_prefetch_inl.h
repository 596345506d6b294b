// Where a row tile's K/V rows are and how their cache lines are requested ahead of use.
// Included by attention_rows_inl.h, once per ISA (isa_each.h).

// The pool offsets (elements) of a step's K/V rows, and the runs of rows adjacent in the pool
// (the rows of one block), which are prefetched as ranges of cache lines.
struct StepRows {
  int64_t off[kRowsKeys];
  int64_t run_begin[kRowsKeys];
  int32_t run_rows[kRowsKeys];
  int runs;
};

// Fills `rows` for item it's key positions [p0, p0 + n): one division, then block by block.
PENSIEVE_INLINE void step_rows(const Problem& P, const Item& it, int32_t p0, int n, StepRows& rows) {
  const int D = P.head_dim, bs = P.block_size;
  const int32_t* table = P.tables + P.table_indptr[it.r];
  const int64_t block_stride = static_cast<int64_t>(P.num_kv_heads) * bs * D;
  const int64_t head_off = static_cast<int64_t>(it.g) * bs * D;
  int32_t block = p0 / bs, o = p0 % bs;
  rows.runs = 0;
  for (int j = 0; j < n; ++block, o = 0) {
    const int64_t first = table[block] * block_stride + head_off + static_cast<int64_t>(o) * D;
    const int count = std::min(bs - o, n - j);
    rows.run_begin[rows.runs] = first;
    rows.run_rows[rows.runs++] = count;
    for (int k = 0; k < count; ++k) rows.off[j + k] = first + static_cast<int64_t>(k) * D;
    j += count;
  }
}

// The cache lines of a step's K and V rows, handed to the prefetcher a few at a time while
// the step before computes. A burst of a whole step's lines (256 for 32 f32 rows of 64) fills
// the load queue and the miss buffers and stalls the core until memory catches up, so compute
// and memory take turns; spread across the step, each prefetch issues while the multiply-adds
// run. Lines go four at a time (a prefetch past a run's end is harmless: it never faults), into
// L2 (prefetcht1): the pages of scattered blocks defeat the hardware prefetchers.
struct LineQueue {
  uintptr_t begin[2 * kRowsKeys], end[2 * kRowsKeys];
  int ranges = 0, next = 0;
  uintptr_t cur = 0;

  void load(const Problem& P, const StepRows& rows) {
    const size_t elem = P.kv_bf16 ? sizeof(uint16_t) : sizeof(float);
    const size_t row_bytes = static_cast<size_t>(P.head_dim) * elem;
    ranges = 0;
    for (const void* pool : {P.k_cache, P.v_cache}) {
      for (int i = 0; i < rows.runs; ++i) {
        const uintptr_t b = reinterpret_cast<uintptr_t>(static_cast<const char*>(pool) + rows.run_begin[i] * elem);
        begin[ranges] = b & ~uintptr_t{63};
        end[ranges++] = b + rows.run_rows[i] * row_bytes;
      }
    }
    next = 0;
    cur = ranges > 0 ? begin[0] : 0;
  }

  // Issues about 4·quads lines.
  PENSIEVE_INLINE void issue(int quads) {
    for (; quads > 0 && next < ranges; --quads) {
      __builtin_prefetch(reinterpret_cast<const void*>(cur), 0, 2);
      __builtin_prefetch(reinterpret_cast<const void*>(cur + 64), 0, 2);
      __builtin_prefetch(reinterpret_cast<const void*>(cur + 128), 0, 2);
      __builtin_prefetch(reinterpret_cast<const void*>(cur + 192), 0, 2);
      cur += 256;
      if (cur >= end[next] && ++next < ranges) cur = begin[next];
    }
  }
  void issue_all() { issue(std::numeric_limits<int>::max()); }

  // Quads per call when a step's lines are spread over `calls` calls.
  int share(int calls) const {
    size_t lines = 0;
    for (int i = 0; i < ranges; ++i) lines += (end[i] - begin[i] + 63) / 64;
    return static_cast<int>((lines + 4 * calls - 1) / (4 * calls));
  }
};
