// A stand-in for node-addon-api's <napi.h> for avx512-emulated.sh: the kernels only see the
// declaration of unwrap_matrix (pack.h), and the check calls no N-API function.
#pragma once
namespace Napi {
class Value;
}
