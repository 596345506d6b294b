// CRC-32C (Castagnoli) of a byte range, continuing `crc` (0 to start): SSE4.2 when the
// active ISA allows, tables otherwise. Defined in crc32c.cc; chunk_read.cc checksums the
// chunk files it reads with it, on the thread that read them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pensieve {

uint32_t crc32c(const uint8_t* p, size_t n, uint32_t crc = 0);

}  // namespace pensieve
