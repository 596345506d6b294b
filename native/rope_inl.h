// Rotary embedding of token rows, compiled once per ISA by isa_each.h (see rope.cc).

// Swaps adjacent lanes (0↔1, 2↔3, …): the partner of each element of an
// interleaved pair.
template <int W, size_t... Is>
PENSIEVE_INLINE vec::F<W> swap_pairs(const vec::F<W>& x, std::index_sequence<Is...>) {
  return __builtin_shuffle(x, vec::I<W>{static_cast<int32_t>(Is ^ 1)...});
}

// Rotates tokens [t0, t1) of x [tokens][heads][headDim] in place. Per token,
// cos/sin of the angles pos·invFreq[j] (f32 product, as Hugging Face and
// llama.cpp compute it) come from libm's correctly range-reduced sinf/cosf and
// are shared by all heads. `table` holds 2·headDim floats of scratch.
void rope_tokens(float* x, const int32_t* positions, int64_t t0, int64_t t1, int heads, int head_dim,
                 const float* inv_freq, bool neox, float* table) {
  constexpr int W = kLanes;
  using V = vec::F<W>;
  const int half = head_dim / 2;
  float* cs = table;             // neox: cos[j], j < half; interleaved: cos of pair j at 2j and 2j+1
  float* sn = table + head_dim;  // neox: sin[j];           interleaved: -sin at 2j, +sin at 2j+1
  for (int64_t t = t0; t < t1; ++t) {
    const float pos = static_cast<float>(positions[t]);
    for (int j = 0; j < half; ++j) {
      const float angle = pos * inv_freq[j];
      const float c = std::cos(angle), s = std::sin(angle);
      if (neox) {
        cs[j] = c;
        sn[j] = s;
      } else {
        cs[2 * j] = cs[2 * j + 1] = c;
        sn[2 * j] = -s;
        sn[2 * j + 1] = s;
      }
    }
    for (int h = 0; h < heads; ++h) {
      float* xh = x + (t * heads + h) * static_cast<int64_t>(head_dim);
      int j = 0;
      if (neox) {
        // (x[j], x[j+half]) → (x[j]·c − x[j+half]·s, x[j]·s + x[j+half]·c)
        for (; j + W <= half; j += W) {
          const V a = vec::load<W>(xh + j), b = vec::load<W>(xh + half + j);
          const V c = vec::load<W>(cs + j), s = vec::load<W>(sn + j);
          vec::store<W>(xh + j, a * c - b * s);
          vec::store<W>(xh + half + j, a * s + b * c);
        }
        for (; j < half; ++j) {
          const float a = xh[j], b = xh[half + j];
          xh[j] = a * cs[j] - b * sn[j];
          xh[half + j] = a * sn[j] + b * cs[j];
        }
      } else {
        // x·cos + partner·(∓sin): even lanes get a·c − b·s, odd lanes a·s + b·c.
        if constexpr (W >= 2) {
          for (; j + W <= head_dim; j += W) {
            const V v = vec::load<W>(xh + j);
            vec::store<W>(xh + j, v * vec::load<W>(cs + j) + swap_pairs<W>(v, std::make_index_sequence<W>{}) * vec::load<W>(sn + j));
          }
        }
        for (; j < head_dim; j += 2) {
          const float a = xh[j], b = xh[j + 1];
          xh[j] = a * cs[j] + b * sn[j];
          xh[j + 1] = b * cs[j + 1] + a * sn[j + 1];
        }
      }
    }
  }
}
