#!/usr/bin/env bash
# Runs the AVX-512 kernels on a CPU without AVX-512: builds avx512_emulated.cc with the
# kernels' intrinsics emulated by SIMDe (apt-get install libsimde-dev) and checks them against
# the scalar kernels. Exits 0 with a note when SIMDe is not installed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if [ ! -f /usr/include/simde/x86/avx512.h ]; then
  echo "SIMDe not installed (libsimde-dev): AVX-512 emulation check skipped"
  exit 0
fi
out=${TMPDIR:-/tmp}/pensieve-avx512-emulated
mkdir -p "$out"
common=(-std=c++17 -O1 -I"$here/napi-stub" -w -Wno-psabi)
# The AVX-512 files see SIMDe through the shim <immintrin.h>, with no target attributes, so the
# compiler never emits an AVX-512 instruction.
emulated=(-I"$here/shim" -DSIMDE_NO_NATIVE -mno-avx512f '-DPENSIEVE_AVX512=' '-DPENSIEVE_AVX512_BF16=' '-DPENSIEVE_AVX512_VNNI=')
objs=()
for f in qmatmul_avx512 matmul_avx512; do
  g++ "${common[@]}" "${emulated[@]}" -c "$root/native/$f.cc" -o "$out/$f.o" &
  objs+=("$out/$f.o")
done
for f in qmatmul_scalar matmul_scalar qlayout qtypes; do
  g++ "${common[@]}" -c "$root/native/$f.cc" -o "$out/$f.o" &
  objs+=("$out/$f.o")
done
g++ "${common[@]}" -c "$here/avx512_emulated.cc" -o "$out/main.o" &
wait
g++ -o "$out/avx512_emulated" "$out/main.o" "${objs[@]}"
"$out/avx512_emulated"
