// Checks the AVX-512 matmul kernels of the block types (qmatmul_avx512.cc) and of f16 / q8_0 and
// the AVX-512 activation quantizer (matmul_avx512.cc) against the scalar kernels, which the
// node tests check against the TS reference. Built by avx512-emulated.sh with the AVX-512
// intrinsics emulated by SIMDe, so it runs on machines without AVX-512 (ours, CI's).
// Prints one line per case and a closing "N passed, N failed".
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "../../native/bf16.h"
#include "../../native/matmul.h"
#include "../../native/qlayout.h"

namespace pensieve {
PackedMatrix::~PackedMatrix() { std::free(data); }
}  // namespace pensieve

using namespace pensieve;

namespace {

std::mt19937 rng(12345);
int passed = 0, failed = 0;

uint16_t random_f16_scale() {
  std::uniform_int_distribution<int> e(8, 14), f(0, 1023), s(0, 1);
  return static_cast<uint16_t>((s(rng) << 15) | (e(rng) << 10) | f(rng));
}

// Random file blocks with random bytes and f16 fields set to scales of either sign; every fifth
// block all 0x00 or 0xff but for the f16 fields.
std::vector<uint8_t> random_blocks(QType t, int64_t rows, int64_t cols) {
  const QTypeInfo& info = qinfo(t);
  const int64_t blocks = rows * cols / info.block_values;
  std::vector<uint8_t> data(static_cast<size_t>(blocks * info.block_bytes));
  std::uniform_int_distribution<int> byte(0, 255);
  for (auto& b : data) b = static_cast<uint8_t>(byte(rng));
  std::vector<int> halves;
  switch (t) {
    case QType::Q4_1: case QType::Q5_1: case QType::Q4_K: case QType::Q5_K: halves = {0, 2}; break;
    case QType::Q2_K: halves = {80, 82}; break;
    case QType::Q3_K: halves = {108}; break;
    case QType::Q6_K: halves = {208}; break;
    default: halves = {0};
  }
  for (int64_t b = 0; b < blocks; ++b) {
    uint8_t* blk = data.data() + b * info.block_bytes;
    if (b % 5 == 4) std::memset(blk, byte(rng) < 128 ? 0x00 : 0xff, static_cast<size_t>(info.block_bytes));
    for (int o : halves) {
      const uint16_t h = random_f16_scale();
      std::memcpy(blk + o, &h, 2);
    }
  }
  return data;
}

void* alloc64(size_t bytes) { return std::aligned_alloc(64, (bytes + 63) / 64 * 64); }

// The packed matrix of pack.cc for a block type (Quant) or q8_0 kept from a q8_0 source.
void pack(QType t, const std::vector<uint8_t>& file, int64_t rows, int64_t cols, PackedMatrix* w) {
  w->rows = rows;
  w->cols = cols;
  w->panels = (rows + kPanelRows - 1) / kPanelRows;
  const QTypeInfo& info = qinfo(t);
  const size_t row_bytes = static_cast<size_t>(cols / info.block_values * info.block_bytes);
  if (t == QType::Q8_0) {
    w->dtype = PackedDType::Q8_0;
    w->k_steps = cols / 32;
    w->panel_bytes = static_cast<size_t>(w->k_steps) * kQ8PanelBlockBytes;
  } else {
    w->dtype = PackedDType::Quant;
    w->qtype = t;
    w->k_steps = cols / qlayout(t).step;
    w->panel_bytes = static_cast<size_t>(w->k_steps) * qlayout(t).step_bytes();
  }
  w->bytes = static_cast<size_t>(w->panels) * w->panel_bytes;
  w->data = static_cast<uint8_t*>(alloc64(w->bytes));
  std::memset(w->data, 0, w->bytes);
  for (int64_t r = 0; r < rows; ++r) {
    uint8_t* panel = w->data + (r / kPanelRows) * w->panel_bytes;
    const int l = static_cast<int>(r % kPanelRows);
    for (int64_t st = 0; st < w->k_steps; ++st) {
      const uint8_t* src = file.data() + r * row_bytes + st * info.block_bytes;
      if (t == QType::Q8_0) {
        uint8_t* blk = panel + st * kQ8PanelBlockBytes;
        std::memcpy(blk + 2 * l, src, 2);
        for (int j = 0; j < 32; ++j) blk[kQ8ScaleBytes + (j / 4) * 64 + l * 4 + (j % 4)] = src[2 + j] ^ 0x80u;
      } else {
        QBlock b;
        read_file_block(t, src, &b);
        write_packed_block(t, b, l, panel + st * qlayout(t).step_bytes());
      }
    }
  }
}

struct Activations {
  std::vector<int8_t> q;
  std::vector<float> d, dsum, dsum16;
  std::vector<int32_t> sum, sum16;
};

// The driver's activation preparation (matmul.cc prepare_x), with the given quantizer.
void prepare(const std::vector<float>& x, int64_t m, int64_t cols, QuantizeRowFn quantize, Activations* p, MatmulArgs* a) {
  const int64_t nb = cols / 32;
  p->q.assign(static_cast<size_t>(m * cols), 0);
  p->d.assign(static_cast<size_t>(m * nb), 0);
  p->sum.assign(static_cast<size_t>(m * nb), 0);
  p->sum16.assign(static_cast<size_t>(m * 2 * nb), 0);
  p->dsum.assign(static_cast<size_t>(m * nb), 0);
  p->dsum16.assign(static_cast<size_t>(m * 2 * nb), 0);
  for (int64_t r = 0; r < m; ++r) {
    quantize(x.data() + r * cols, cols, p->q.data() + r * cols, p->d.data() + r * nb, p->sum.data() + r * nb);
    for (int64_t h = 0; h < 2 * nb; ++h) {
      int32_t t = 0;
      for (int j = 0; j < 16; ++j) t += p->q[r * cols + 16 * h + j];
      p->sum16[r * 2 * nb + h] = t;
      p->dsum16[r * 2 * nb + h] = p->d[r * nb + h / 2] * static_cast<float>(t);
    }
    for (int64_t b = 0; b < nb; ++b) p->dsum[r * nb + b] = p->d[r * nb + b] * static_cast<float>(p->sum[r * nb + b]);
  }
  a->x = p->q.data();
  a->ldx = cols;
  a->xd = p->d.data();
  a->xsum = p->sum.data();
  a->xblocks = nb;
  a->xsum16 = p->sum16.data();
  a->xdsum = p->dsum.data();
  a->xdsum16 = p->dsum16.data();
}

void check(bool ok, const char* what, const char* type, int64_t rows, int64_t cols, int64_t m, const char* detail) {
  if (ok) ++passed;
  else ++failed;
  std::printf("%s %s %s [%ldx%ld] m=%ld%s%s\n", ok ? "ok" : "FAIL", what, type, static_cast<long>(rows), static_cast<long>(cols),
              static_cast<long>(m), detail[0] ? ": " : "", detail);
}

void run_case(QType t, int64_t rows, int64_t cols, int64_t m) {
  const std::vector<uint8_t> file = random_blocks(t, rows, cols);
  PackedMatrix w;
  pack(t, file, rows, cols, &w);
  std::vector<float> W(static_cast<size_t>(rows * cols));
  const size_t row_bytes = static_cast<size_t>(cols / qinfo(t).block_values * qinfo(t).block_bytes);
  for (int64_t r = 0; r < rows; ++r) dequantize_row(t, file.data() + r * row_bytes, cols, W.data() + r * cols);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> x(static_cast<size_t>(m * cols)), bias(static_cast<size_t>(rows));
  for (auto& v : x) v = u(rng) * (0.1f + 3 * std::fabs(u(rng)));
  if (cols >= 64) std::fill(x.begin() + 32, x.begin() + 64, 0.0f);
  for (auto& v : bias) v = u(rng);

  // The AVX-512 quantizer must give the scalar one's bytes exactly.
  Activations ps, pv;
  MatmulArgs as, av;
  prepare(x, m, cols, quantize_row_q8_scalar, &ps, &as);
  prepare(x, m, cols, quantize_row_q8_avx512, &pv, &av);
  const bool same = ps.q == pv.q && ps.d == pv.d && ps.sum == pv.sum;
  check(same, "quantize_row_q8_avx512", qinfo(t).name, rows, cols, m, "");

  std::vector<float> out_s(static_cast<size_t>(m * rows), NAN), out_v(static_cast<size_t>(m * rows), NAN);
  for (MatmulArgs* a : {&as, &av}) {
    a->w = &w;
    a->bias = bias.data();
    a->num_parts = 1;
  }
  as.parts[0] = {out_s.data(), rows, 0};
  av.parts[0] = {out_v.data(), rows, 0};
  MatmulTileFn scalar = t == QType::Q8_0 ? matmul_q8_scalar : quant_tile_scalar(t);
  MatmulTileFn avx512 = t == QType::Q8_0 ? matmul_q8_avx512 : quant_tile_avx512(t);
  scalar(as, 0, w.panels, 0, m);
  // Both the whole range and one panel at a time with row splits, as the thread pool cuts work.
  avx512(av, 0, w.panels, 0, m);
  std::vector<float> whole = out_v;
  for (int64_t p = 0; p < w.panels; ++p) avx512(av, p, p + 1, 0, m / 2), avx512(av, p, p + 1, m / 2, m);
  char detail[200] = "";
  bool ok = whole == out_v;
  if (!ok) std::snprintf(detail, sizeof detail, "split tiles differ from one call");
  for (int64_t i = 0; ok && i < m; ++i) {
    for (int64_t n = 0; n < rows; ++n) {
      double mag = std::fabs(bias[n]);
      for (int64_t k = 0; k < cols; ++k) mag += std::fabs(static_cast<double>(W[n * cols + k]) * x[i * cols + k]);
      const double err = std::fabs(static_cast<double>(out_v[i * rows + n]) - out_s[i * rows + n]);
      if (!(err <= 1e-5 * mag + 1e-30)) {
        std::snprintf(detail, sizeof detail, "out[%ld][%ld] = %g, scalar %g", static_cast<long>(i), static_cast<long>(n), out_v[i * rows + n],
                      out_s[i * rows + n]);
        ok = false;
        break;
      }
    }
  }
  check(ok, "matmul avx512 vs scalar", qinfo(t).name, rows, cols, m, detail);
}

void run_f16(int64_t rows, int64_t cols, int64_t m) {
  PackedMatrix w;
  w.dtype = PackedDType::F16;
  w.rows = rows;
  w.cols = cols;
  w.panels = (rows + kPanelRows - 1) / kPanelRows;
  w.k_steps = cols;
  w.panel_bytes = static_cast<size_t>(cols) * kPanelRows * 2;
  w.bytes = static_cast<size_t>(w.panels) * w.panel_bytes;
  w.data = static_cast<uint8_t*>(alloc64(w.bytes));
  std::memset(w.data, 0, w.bytes);
  std::uniform_real_distribution<float> u(-1, 1);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k)
      reinterpret_cast<uint16_t*>(w.data + (r / kPanelRows) * w.panel_bytes)[k * kPanelRows + r % kPanelRows] = f32_to_f16(u(rng));
  std::vector<float> x(static_cast<size_t>(m * cols));
  for (auto& v : x) v = u(rng);
  std::vector<float> out_s(static_cast<size_t>(m * rows)), out_v(static_cast<size_t>(m * rows));
  MatmulArgs as, av;
  for (MatmulArgs* a : {&as, &av}) {
    a->w = &w;
    a->x = x.data();
    a->ldx = cols;
    a->num_parts = 1;
  }
  as.parts[0] = {out_s.data(), rows, 0};
  av.parts[0] = {out_v.data(), rows, 0};
  matmul_f16_scalar(as, 0, w.panels, 0, m);
  matmul_f16_avx512(av, 0, w.panels, 0, m);
  bool ok = true;
  for (size_t i = 0; i < out_s.size(); ++i) ok = ok && std::fabs(out_s[i] - out_v[i]) <= 1e-5 * (1 + cols);
  check(ok, "matmul avx512 vs scalar", "f16", rows, cols, m, "");
}

}  // namespace

int main() {
  const QType types[] = {QType::Q4_0, QType::Q4_1, QType::Q5_0, QType::Q5_1, QType::Q8_0, QType::Q2_K,
                         QType::Q3_K, QType::Q4_K, QType::Q5_K, QType::Q6_K, QType::IQ4_NL, QType::IQ4_XS};
  for (QType t : types) {
    const int64_t step = qinfo(t).block_values;
    for (int64_t rows : {1, 7, 33, 100})
      for (int64_t cols : {step, 3 * step})
        for (int64_t m : {1, 3, 17, 64}) run_case(t, rows, cols, m);
  }
  for (int64_t rows : {1, 33}) for (int64_t m : {1, 3, 17}) run_f16(rows, 45, m);
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
