// Thin helpers for the N-API boundary: typed-array arguments with checked types
// and lengths. Kernels receive raw pointers; the checks live here, once.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace pensieve {

template <typename T>
struct Span {
  T* data = nullptr;
  size_t size = 0;
};

namespace detail {
template <typename T> struct TypedArrayKind;
template <> struct TypedArrayKind<float> { static constexpr napi_typedarray_type value = napi_float32_array; static constexpr const char* name = "Float32Array"; };
template <> struct TypedArrayKind<int32_t> { static constexpr napi_typedarray_type value = napi_int32_array; static constexpr const char* name = "Int32Array"; };
template <> struct TypedArrayKind<uint8_t> { static constexpr napi_typedarray_type value = napi_uint8_array; static constexpr const char* name = "Uint8Array"; };
template <> struct TypedArrayKind<uint16_t> { static constexpr napi_typedarray_type value = napi_uint16_array; static constexpr const char* name = "Uint16Array"; };
}  // namespace detail

// A typed array argument of element type T (float, int32_t, uint8_t, uint16_t).
// Throws a TypeError naming the argument when the value has another type.
template <typename T>
Span<T> typed_array(const Napi::Value& v, const char* name) {
  using K = detail::TypedArrayKind<T>;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != K::value) {
    throw Napi::TypeError::New(v.Env(), std::string(name) + " must be a " + K::name);
  }
  auto arr = v.As<Napi::TypedArrayOf<T>>();
  return Span<T>{arr.Data(), arr.ElementLength()};
}

// Same, but checks that the array holds at least `need` elements.
template <typename T>
Span<T> typed_array(const Napi::Value& v, const char* name, size_t need) {
  Span<T> s = typed_array<T>(v, name);
  if (s.size < need) {
    throw Napi::RangeError::New(v.Env(), std::string(name) + " has " + std::to_string(s.size) +
                                             " elements, needs " + std::to_string(need));
  }
  return s;
}

inline int64_t int_arg(const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string(name) + " must be a number");
  return v.As<Napi::Number>().Int64Value();
}

inline double number_arg(const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) throw Napi::TypeError::New(v.Env(), std::string(name) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// Kernel families register their exports from their own file with
// PENSIEVE_REGISTER(fn), so adding a family never touches addon.cc.
using Registrar = void (*)(Napi::Env, Napi::Object);
struct RegisterExports {
  explicit RegisterExports(Registrar r);
};
#define PENSIEVE_REGISTER(fn) static ::pensieve::RegisterExports pensieve_register_##fn(fn)

}  // namespace pensieve
