// Paged multi-token attention over the KV pools, and the KV slot writes that
// fill them (DESIGN.md §3; semantics in src/kernels/types.ts).
//
// Work items: a tile of query rows of one request that share one KV head (the
// whole GQA group, for one or more tokens), against a range of key positions.
// Inside a tile, query rows sit in vector lanes: a step over 16 key positions
// broadcasts each K and V element once and multiplies it into every row of the
// tile, so each K/V block is read once per tile rather than once per query
// head; the online-softmax bookkeeping (running max, sum, rescale) is
// vectorized across rows too, and headDim is a plain loop count, so any headDim
// works without a SIMD tail. The causal mask is per lane (each row has its own
// position), which is what lets a request's query rows sit at non-contiguous
// positions. When there are few tiles and long contexts (decode), key ranges
// are split flash-decoding style and the slices merged by a combine step.
#include <napi.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>  // the row tiles' lane sums (attention_rows_inl.h)
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "bf16.h"
#include "cpu.h"
#include "napi_util.h"
#include "parallel.h"

namespace pensieve {

namespace {

constexpr int kKeyStep = 16;              // key positions per online-softmax step
constexpr int kMaxLanes = 32;             // widest tile: two zmm of rows
constexpr int kMaxRowTile = 8;            // most rows a row tile (attention_rows_inl.h) holds
constexpr int kRowsKeys = 32;             // key positions per row-tile step
constexpr int kRowTileKernel = -1;        // Item::kernel of a row tile
constexpr int32_t kMinSplitKeys = 512;    // a key-range slice shorter than this is not worth a combine
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kInf = std::numeric_limits<float>::infinity();

struct Problem {
  const float* q;
  float* out;
  // The K/V pools: f32, or bf16 bits (kv_bf16) — each step's rows are widened to f32 in the
  // tile's scratch before use, so the arithmetic is the same for both.
  const void* k_cache;
  const void* v_cache;
  bool kv_bf16;
  const int32_t* q_indptr;
  const int32_t* q_pos;
  const int32_t* tables;
  const int32_t* table_indptr;
  const int32_t* context_lens;
  int num_requests, num_heads, num_kv_heads, head_dim, block_size, group;
  float scale_log2;  // scale·log2(e): scores are kept in base 2 so softmax can use exp2
  // Sliding window: a row at position p sees keys > p - window (llama.cpp's standard SWA);
  // 0: none. Items start at the first key any of their rows sees, so blocks wholly before
  // every row's window are never read.
  int32_t window;
  float softcap_log2;  // attention-logit soft-cap·log2(e) (Gemma 2), 0: none
};

// The first key position a query at position pos sees.
inline int32_t first_visible(const Problem& P, int32_t pos) { return P.window > 0 ? std::max(0, pos - P.window + 1) : 0; }

// Rows of request r for KV head g are numbered i = 0 .. tokens·group - 1: row i
// is token q_indptr[r] + i / group, query head g·group + i % group. An item
// covers rows [row0, row0 + rows) against key positions [key_begin, key_end).
struct Item {
  int32_t r, g, row0, rows, key_begin, key_end;
  int32_t kernel;   // index into the ISA's TileShapes, or kRowTileKernel
  int64_t partial;  // -1: write the normalized output; else first row in the partial buffers
  int64_t cost;     // lanes × keys, for ordering
  int32_t width;    // lanes of a lane tile, rows of a row tile
};

// Unnormalized results of key-range slices: o [rows][headDim], running max m
// and sum l per row, both in base 2.
struct Partials {
  float* o;
  float* m;
  float* l;
};

// Tile shapes of an ISA by lane count, ascending (Item::kernel indexes them),
// and its worker loop.
struct TileShapes {
  int count;
  int lanes[3];
};
struct AttentionIsa {
  TileShapes shapes;
  int rows_width;  // row tiles need headDim to be a multiple of this
  void (*claim_items)(const Problem&, const std::vector<Item>&, std::atomic<size_t>&, const Partials&);
};

}  // namespace
}  // namespace pensieve

#define PENSIEVE_ISA_BODY "attention_inl.h"
#include "isa_each.h"

namespace pensieve {
namespace {

// A (request, KV head, row tile) whose key range was split into slices; its
// slices' partial rows start at `partial`, `rows` apart.
struct SplitUnit {
  int32_t r, g, row0, rows, slices;
  int64_t partial;
};

// Merges the slices of one unit: rescale each slice to the common max and sum.
void combine(const Problem& P, const SplitUnit& u, const Partials& part) {
  const int D = P.head_dim, G = P.group;
  const int32_t t0 = P.q_indptr[u.r];
  for (int32_t lane = 0; lane < u.rows; ++lane) {
    const int32_t i = u.row0 + lane, t = t0 + i / G, h = u.g * G + i % G;
    float* o = P.out + (static_cast<int64_t>(t) * P.num_heads + h) * D;
    float m = -kInf;
    for (int32_t s = 0; s < u.slices; ++s) m = std::max(m, part.m[u.partial + s * u.rows + lane]);
    std::fill(o, o + D, 0.0f);
    if (m == -kInf) continue;  // no visible position at all
    float l = 0.0f;
    for (int32_t s = 0; s < u.slices; ++s) {
      const int64_t row = u.partial + s * u.rows + lane;
      const float w = std::exp2(part.m[row] - m);
      l += part.l[row] * w;
      const float* po = part.o + row * D;
      for (int d = 0; d < D; ++d) o[d] += po[d] * w;
    }
    const float inv = 1.0f / l;
    for (int d = 0; d < D; ++d) o[d] *= inv;
  }
}

void paged_attention(const Problem& P) {
  const AttentionIsa& isa = PENSIEVE_ISA_CALL(attention_isa);
  const int* lanes = isa.shapes.lanes;
  const int shapes = isa.shapes.count;
  const int G = P.group;

  // Tiles: each request's rows for a KV head cut into the widest lane shape, the
  // remainder into the narrowest shape that holds it, or into a row tile when at
  // most kMaxRowTile rows are left (a decode token's GQA group: lanes over
  // head-dim use every lane whatever the group size). A tile's key range ends
  // at the last position any of its rows sees.
  const bool row_tiles = P.head_dim % isa.rows_width == 0;
  std::vector<Item> items;
  int64_t total_cost = 0;
  for (int32_t r = 0; r < P.num_requests; ++r) {
    const int32_t t0 = P.q_indptr[r], rows_total = (P.q_indptr[r + 1] - t0) * G;
    const int32_t ctx = P.context_lens[r];
    for (int32_t row0 = 0; row0 < rows_total;) {
      const int32_t left = rows_total - row0;
      int k = shapes - 1;
      if (row_tiles && left <= kMaxRowTile) {
        k = kRowTileKernel;
      } else if (left < lanes[k]) {
        k = 0;
        while (lanes[k] < left) ++k;
      }
      const int32_t width = k == kRowTileKernel ? left : lanes[k];
      const int32_t rows = std::min(left, width);
      int32_t key_end = 0, key_begin = std::numeric_limits<int32_t>::max();
      for (int32_t t = t0 + row0 / G; t <= t0 + (row0 + rows - 1) / G; ++t) {
        key_end = static_cast<int32_t>(std::max<int64_t>(key_end, std::min<int64_t>(int64_t{P.q_pos[t]} + 1, ctx)));
        key_begin = std::min(key_begin, first_visible(P, P.q_pos[t]));
      }
      key_begin = std::min(key_begin, key_end);
      const int64_t cost = int64_t{width} * (key_end - key_begin);
      for (int32_t g = 0; g < P.num_kv_heads; ++g) {
        items.push_back(Item{r, g, row0, rows, key_begin, key_end, k, -1, cost, width});
        total_cost += cost;
      }
      row0 += rows;
    }
  }

  // Flash-decoding split: an item far above the average share of a thread
  // (decode over a long context, few requests) is cut into key-range slices
  // of at least kMinSplitKeys, merged afterwards by combine().
  const int threads = num_threads();
  std::vector<SplitUnit> units;
  int64_t partial_rows = 0;
  if (threads > 1) {
    const int64_t target = std::max<int64_t>(1, total_cost / (4 * threads));
    std::vector<Item> sliced;
    sliced.reserve(items.size());
    for (const Item& it : items) {
      const int32_t keys = it.key_end - it.key_begin;
      const int64_t slices = std::min<int64_t>((it.cost + target - 1) / target, keys / kMinSplitKeys);
      if (slices <= 1) {
        sliced.push_back(it);
        continue;
      }
      const int32_t chunk = static_cast<int32_t>((keys + slices - 1) / slices + kKeyStep - 1) / kKeyStep * kKeyStep;
      const int32_t count = (keys + chunk - 1) / chunk;
      units.push_back(SplitUnit{it.r, it.g, it.row0, it.rows, count, partial_rows});
      for (int32_t s = 0; s < count; ++s) {
        Item x = it;
        x.key_begin = it.key_begin + s * chunk;
        x.key_end = it.key_begin + std::min(keys, (s + 1) * chunk);
        x.partial = partial_rows + int64_t{s} * it.rows;
        x.cost = int64_t{it.width} * (x.key_end - x.key_begin);
        sliced.push_back(x);
      }
      partial_rows += int64_t{count} * it.rows;
    }
    items.swap(sliced);
  }
  // Longest first, so the last items handed out are short ones.
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.cost > b.cost; });

  std::vector<float> partial_buf(static_cast<size_t>(partial_rows) * (P.head_dim + 2));
  const Partials part{partial_buf.data(), partial_buf.data() + partial_rows * P.head_dim,
                      partial_buf.data() + partial_rows * (P.head_dim + 1)};
  std::atomic<size_t> next{0};
  const int tasks = static_cast<int>(std::min<size_t>(threads, items.size()));
  parallel_tasks(tasks, [&](int) { isa.claim_items(P, items, next, part); });

  if (!units.empty()) {
    const int64_t unit_floats = int64_t{units[0].rows} * units[0].slices * P.head_dim;
    parallel_for(static_cast<int64_t>(units.size()), std::max<int64_t>(1, 32768 / unit_floats), [&](int64_t b, int64_t e) {
      for (int64_t u = b; u < e; ++u) combine(P, units[u], part);
    });
  }
}

// ---- N-API boundary: every index the kernels will follow is checked here ----

[[noreturn]] void range_error(Napi::Env env, const char* fn, const std::string& msg) {
  throw Napi::RangeError::New(env, std::string(fn) + ": " + msg);
}

// A positive integer argument below 2^24 (dimensions, block size).
int32_t dim_arg(const Napi::Value& v, const char* fn, const char* name) {
  const double x = number_arg(v, name);
  if (!(x >= 1 && x <= (1 << 24) && x == std::floor(x)))
    range_error(v.Env(), fn, std::string(name) + " must be a positive integer, got " + std::to_string(x));
  return static_cast<int32_t>(x);
}

// The pool's block count; its length must be whole blocks of [numKvHeads][blockSize][headDim].
// A K/V pool argument: a Float32Array, or a Uint16Array of bf16 bits.
struct KvPool {
  void* data;
  size_t size;  // elements
  bool bf16;
};

KvPool kv_pool_arg(const Napi::Value& v, const char* name) {
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array) {
    const Span<uint16_t> s = typed_array<uint16_t>(v, name);
    return KvPool{s.data, s.size, true};
  }
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(v.Env(), std::string(name) + " must be a Float32Array (f32 KV) or a Uint16Array (bf16 KV)");
  const Span<float> s = typed_array<float>(v, name);
  return KvPool{s.data, s.size, false};
}

// The pools' block count; their length must be whole blocks of [numKvHeads][blockSize][headDim],
// and both must have the same length and element type.
int64_t pool_blocks(Napi::Env env, const char* fn, const KvPool& k_cache, const KvPool& v_cache, int64_t block_floats) {
  if (k_cache.bf16 != v_cache.bf16) range_error(env, fn, "kCache and vCache must have the same element type");
  if (k_cache.size % block_floats != 0)
    range_error(env, fn, "kCache has " + std::to_string(k_cache.size) + " elements, not a whole number of blocks of " +
                             std::to_string(block_floats) + " (numKvHeads·blockSize·headDim)");
  if (v_cache.size != k_cache.size)
    range_error(env, fn, "vCache has " + std::to_string(v_cache.size) + " elements but kCache has " + std::to_string(k_cache.size));
  return static_cast<int64_t>(k_cache.size) / block_floats;
}

Napi::Value PagedAttention(const Napi::CallbackInfo& info) {
  constexpr const char* fn = "pagedAttention";
  Napi::Env env = info.Env();
  const Span<float> q = typed_array<float>(info[0], "q");
  const KvPool k_cache = kv_pool_arg(info[1], "kCache");
  const KvPool v_cache = kv_pool_arg(info[2], "vCache");
  const Span<float> out = typed_array<float>(info[3], "out");
  const Span<int32_t> q_indptr = typed_array<int32_t>(info[4], "qIndptr");
  const Span<int32_t> q_pos = typed_array<int32_t>(info[5], "qPos");
  const Span<int32_t> tables = typed_array<int32_t>(info[6], "blockTables");
  const Span<int32_t> table_indptr = typed_array<int32_t>(info[7], "blockTableIndptr");
  const Span<int32_t> context_lens = typed_array<int32_t>(info[8], "contextLens");
  const int32_t num_heads = dim_arg(info[9], fn, "numHeads");
  const int32_t num_kv_heads = dim_arg(info[10], fn, "numKvHeads");
  const int32_t head_dim = dim_arg(info[11], fn, "headDim");
  const int32_t block_size = dim_arg(info[12], fn, "blockSize");
  const double scale = number_arg(info[13], "scale");
  if (!std::isfinite(scale)) range_error(env, fn, "scale must be finite");
  const double window = info[14].IsUndefined() ? 0.0 : number_arg(info[14], "slidingWindow");
  if (!(window >= 0 && window <= (1 << 24) && window == std::floor(window)))
    range_error(env, fn, "slidingWindow must be an integer in [0, 2^24] (0: none), got " + std::to_string(window));
  const double softcap = info[15].IsUndefined() ? 0.0 : number_arg(info[15], "softcap");
  if (!(softcap >= 0 && std::isfinite(softcap))) range_error(env, fn, "softcap must be finite and >= 0 (0: none), got " + std::to_string(softcap));
  if (num_heads % num_kv_heads != 0)
    range_error(env, fn, "numHeads (" + std::to_string(num_heads) + ") is not a multiple of numKvHeads (" +
                             std::to_string(num_kv_heads) + ")");

  if (q_indptr.size < 1) range_error(env, fn, "qIndptr needs R+1 entries, got none");
  const int64_t R = static_cast<int64_t>(q_indptr.size) - 1;
  if (q_indptr.data[0] != 0) range_error(env, fn, "qIndptr[0] must be 0, got " + std::to_string(q_indptr.data[0]));
  for (int64_t r = 0; r < R; ++r)
    if (q_indptr.data[r + 1] < q_indptr.data[r])
      range_error(env, fn, "qIndptr decreases at " + std::to_string(r + 1) + " (" + std::to_string(q_indptr.data[r]) + " then " +
                               std::to_string(q_indptr.data[r + 1]) + ")");
  const int64_t T = q_indptr.data[R];
  const int64_t row_floats = int64_t{num_heads} * head_dim;
  if (static_cast<int64_t>(q.size) != T * row_floats)
    range_error(env, fn, "q has " + std::to_string(q.size) + " floats; qIndptr[R] = " + std::to_string(T) + " rows of numHeads·headDim = " +
                             std::to_string(row_floats) + " need " + std::to_string(T * row_floats));
  if (out.size != q.size) range_error(env, fn, "out has " + std::to_string(out.size) + " floats, q has " + std::to_string(q.size));
  if (static_cast<int64_t>(q_pos.size) != T)
    range_error(env, fn, "qPos has " + std::to_string(q_pos.size) + " entries, qIndptr[R] = " + std::to_string(T));
  if (static_cast<int64_t>(context_lens.size) != R)
    range_error(env, fn, "contextLens has " + std::to_string(context_lens.size) + " entries for " + std::to_string(R) + " requests");
  if (static_cast<int64_t>(table_indptr.size) != R + 1)
    range_error(env, fn, "blockTableIndptr has " + std::to_string(table_indptr.size) + " entries, needs R+1 = " + std::to_string(R + 1));
  const int64_t num_blocks = pool_blocks(env, fn, k_cache, v_cache, int64_t{num_kv_heads} * block_size * head_dim);

  // Each request's table must cover every position its rows see, with ids in the pool.
  for (int64_t r = 0; r < R; ++r) {
    const int64_t tb = table_indptr.data[r], te = table_indptr.data[r + 1];
    if (tb < 0 || te < tb || te > static_cast<int64_t>(tables.size))
      range_error(env, fn, "request " + std::to_string(r) + ": blockTableIndptr range [" + std::to_string(tb) + ", " + std::to_string(te) +
                               ") is not inside blockTables (" + std::to_string(tables.size) + " entries)");
    const int64_t ctx = context_lens.data[r];
    // Positions are compared as floats in the mask, exact up to 2^24.
    if (ctx < 0 || ctx > (1 << 24))
      range_error(env, fn, "contextLens[" + std::to_string(r) + "] = " + std::to_string(ctx) + " is outside [0, 2^24]");
    int64_t visible = 0, first = std::numeric_limits<int64_t>::max();
    for (int64_t t = q_indptr.data[r]; t < q_indptr.data[r + 1]; ++t) {
      if (q_pos.data[t] < 0) range_error(env, fn, "qPos[" + std::to_string(t) + "] is negative (" + std::to_string(q_pos.data[t]) + ")");
      visible = std::max(visible, std::min<int64_t>(int64_t{q_pos.data[t]} + 1, ctx));
      first = std::min<int64_t>(first, window > 0 ? std::max<int64_t>(0, int64_t{q_pos.data[t]} - static_cast<int64_t>(window) + 1) : 0);
    }
    const int64_t need = (visible + block_size - 1) / block_size;
    if (need > te - tb)
      range_error(env, fn, "request " + std::to_string(r) + " reads position " + std::to_string(visible - 1) + ", which needs " +
                               std::to_string(need) + " blocks, but its block table has " + std::to_string(te - tb));
    // Blocks wholly before every row's window are never read: their entries are not checked.
    for (int64_t e = tb + std::min(first, visible) / block_size; e < tb + need; ++e)
      if (tables.data[e] < 0 || tables.data[e] >= num_blocks)
        range_error(env, fn, "blockTables[" + std::to_string(e) + "] = " + std::to_string(tables.data[e]) + " (request " + std::to_string(r) +
                                 ") is outside the pool of " + std::to_string(num_blocks) + " blocks");
  }

  const Problem P{q.data, out.data, k_cache.data, v_cache.data, k_cache.bf16, q_indptr.data, q_pos.data, tables.data, table_indptr.data,
                  context_lens.data, static_cast<int>(R), num_heads, num_kv_heads, head_dim, block_size,
                  num_heads / num_kv_heads, static_cast<float>(scale) * kLog2e, static_cast<int32_t>(window),
                  static_cast<float>(softcap) * kLog2e};
  paged_attention(P);
  return env.Undefined();
}

// reshape_and_cache: token t's K and V ([numKvHeads][headDim]) go to slot
// slotMapping[t] = block·blockSize + offset. Everything is checked before the
// first write, so a rejected call leaves the pools untouched.
Napi::Value WriteKV(const Napi::CallbackInfo& info) {
  constexpr const char* fn = "writeKV";
  Napi::Env env = info.Env();
  const Span<float> k = typed_array<float>(info[0], "k");
  const Span<float> v = typed_array<float>(info[1], "v");
  const Span<int32_t> slots = typed_array<int32_t>(info[2], "slotMapping");
  const KvPool k_cache = kv_pool_arg(info[3], "kCache");
  const KvPool v_cache = kv_pool_arg(info[4], "vCache");
  const int32_t num_kv_heads = dim_arg(info[5], fn, "numKvHeads");
  const int32_t head_dim = dim_arg(info[6], fn, "headDim");
  const int32_t block_size = dim_arg(info[7], fn, "blockSize");
  const int64_t T = static_cast<int64_t>(slots.size);
  const int64_t row_floats = int64_t{num_kv_heads} * head_dim;
  if (static_cast<int64_t>(k.size) != T * row_floats || v.size != k.size)
    range_error(env, fn, "k and v need " + std::to_string(T * row_floats) + " floats (" + std::to_string(T) +
                             " slots × numKvHeads·headDim), got " + std::to_string(k.size) + " and " + std::to_string(v.size));
  const int64_t num_slots = pool_blocks(env, fn, k_cache, v_cache, row_floats * block_size) * block_size;
  for (int64_t t = 0; t < T; ++t)
    if (slots.data[t] >= num_slots)
      range_error(env, fn, "slotMapping[" + std::to_string(t) + "] = " + std::to_string(slots.data[t]) + " is outside the pool of " +
                               std::to_string(num_slots) + " slots");

  // bf16 pools get each value rounded to nearest even (bf16.h), as the reference does.
  for (int64_t t = 0; t < T; ++t) {
    const int64_t slot = slots.data[t];
    if (slot < 0) continue;
    const int64_t block = slot / block_size, offset = slot % block_size;
    for (int64_t h = 0; h < num_kv_heads; ++h) {
      const int64_t dst = ((block * num_kv_heads + h) * block_size + offset) * head_dim;
      const int64_t src = (t * num_kv_heads + h) * head_dim;
      if (k_cache.bf16) {
        uint16_t* kd = static_cast<uint16_t*>(k_cache.data) + dst;
        uint16_t* vd = static_cast<uint16_t*>(v_cache.data) + dst;
        for (int32_t d = 0; d < head_dim; ++d) {
          kd[d] = f32_to_bf16(k.data[src + d]);
          vd[d] = f32_to_bf16(v.data[src + d]);
        }
      } else {
        const size_t bytes = static_cast<size_t>(head_dim) * sizeof(float);
        std::memcpy(static_cast<float*>(k_cache.data) + dst, k.data + src, bytes);
        std::memcpy(static_cast<float*>(v_cache.data) + dst, v.data + src, bytes);
      }
    }
  }
  return env.Undefined();
}

void RegisterAttention(Napi::Env env, Napi::Object exports) {
  exports.Set("pagedAttention", Napi::Function::New(env, PagedAttention));
  exports.Set("writeKV", Napi::Function::New(env, WriteKV));
}

}  // namespace

PENSIEVE_REGISTER(RegisterAttention);

}  // namespace pensieve
