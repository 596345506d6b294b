// The addon's entry point: system controls (threads, ISA) plus whatever kernel
// families registered themselves with PENSIEVE_REGISTER.
#include <napi.h>

#include <vector>

#include "cpu.h"
#include "napi_util.h"
#include "parallel.h"

namespace pensieve {

namespace {
std::vector<Registrar>& registrars() {
  static std::vector<Registrar> list;
  return list;
}

Napi::Value CpuInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CpuFeatures& f = cpu();
  Napi::Object o = Napi::Object::New(env);
  o.Set("avx2", f.avx2);
  o.Set("avx512", f.avx512);
  o.Set("avx512bf16", f.avx512bf16);
  o.Set("avx512vnni", f.avx512vnni);
  o.Set("amxbf16", f.amxbf16);
  o.Set("isa", isa_name(active_isa()));
  o.Set("threads", num_threads());
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  set_num_threads(static_cast<int>(int_arg(info[0], "threads")));
  return Napi::Number::New(info.Env(), num_threads());
}

// Caps the ISA ("scalar" | "avx2" | "avx512"); tests use it to run every path.
Napi::Value SetMaxIsa(const Napi::CallbackInfo& info) {
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name == "scalar") set_max_isa(Isa::Scalar);
  else if (name == "avx2") set_max_isa(Isa::Avx2);
  else if (name == "avx512") set_max_isa(Isa::Avx512);
  else throw Napi::TypeError::New(info.Env(), "isa must be scalar, avx2 or avx512");
  return Napi::String::New(info.Env(), isa_name(active_isa()));
}
}  // namespace

RegisterExports::RegisterExports(Registrar r) { registrars().push_back(r); }

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("cpuInfo", Napi::Function::New(env, CpuInfo));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("setMaxIsa", Napi::Function::New(env, SetMaxIsa));
  for (Registrar r : registrars()) r(env, exports);
  return exports;
}

}  // namespace pensieve

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return pensieve::Init(env, exports); }

NODE_API_MODULE(pensieve_native, InitAddon)
