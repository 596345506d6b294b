// Runtime CPU feature detection. Kernels pick their ISA path from here at call
// time, so one binary runs on any x86-64 (never SIGILL on a CPU without AVX-512).
#pragma once

namespace pensieve {

enum class Isa { Scalar = 0, Avx2 = 1, Avx512 = 2 };

struct CpuFeatures {
  bool avx2 = false;       // AVX2 + FMA
  bool avx512 = false;     // AVX-512 F/BW/DQ/VL
  bool avx512bf16 = false; // vdpbf16ps
  bool avx512vnni = false; // vpdpbusd
  // AMX-BF16 (tdpbf16ps) and the tile state granted to this process by the OS (Linux asks for a
  // request first); opt-in with PENSIEVE_AMX=1 (cpu.cc says why).
  bool amxbf16 = false;
};

const CpuFeatures& cpu();
// The widest ISA allowed: detected features, capped by PENSIEVE_ISA=scalar|avx2|avx512
// (or set_max_isa, used by tests to exercise every path on one machine).
Isa active_isa();
void set_max_isa(Isa isa);
const char* isa_name(Isa isa);

}  // namespace pensieve
