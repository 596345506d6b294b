// readChunkFiles: the disk tier's chunk-file reads, a batch at a time, off the JS thread.
// One task on libuv's thread pool opens each file, reads it with one preadv into the three
// buffers the caller owns (the header's page, the payload — the very array the swap-in
// scatters from — and one spare byte that catches a file longer than expected), closes it,
// and checksums the payload (CRC-32C) on the same thread. A restore of a 4K-token history
// reads 128 chunk files: through fs.promises that was three event-loop round trips per file
// (open, readv, close) plus a checksum on the engine's thread, per file; here it is one
// promise for the batch. The checks of what was read (header, sizes, checksum) stay in
// src/engine/tiers/disk-tier.ts.
//
//   readChunkFiles(paths: string[], buffers: Uint8Array[]) — buffers holds three per path
//   → Promise<({ bytesRead: number, crc: number } | { error: string })[]>, crc over the whole
//     payload buffer, whatever was read into it.
#include <fcntl.h>
#include <napi.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "crc32c.h"
#include "napi_util.h"

namespace pensieve {

namespace {

struct FileRead {
  std::string path;
  iovec iov[3];
  size_t bytes_read = 0;
  uint32_t crc = 0;
  std::string error;  // empty when the read went through
};

// "ENOENT: no such file or directory, open '/x'", as Node's fs words it.
std::string errno_message(int err, const char* op, const std::string& path) {
  const char* name = strerrorname_np(err);
  return std::string(name != nullptr ? name : "E?") + ": " + std::strerror(err) + ", " + op + " '" + path + "'";
}

// Reads the whole file into the iovecs (a regular file reads short only at its end).
void read_file(FileRead& f) {
  const int fd = ::open(f.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    f.error = errno_message(errno, "open", f.path);
    return;
  }
  iovec iov[3];
  std::memcpy(iov, f.iov, sizeof iov);
  iovec* at = iov;
  int left = 3;
  size_t total = 0;
  while (left > 0) {
    const ssize_t n = ::preadv(fd, at, left, static_cast<off_t>(total));
    if (n < 0) {
      if (errno == EINTR) continue;
      f.error = errno_message(errno, "read", f.path);
      break;
    }
    if (n == 0) break;
    total += static_cast<size_t>(n);
    for (size_t got = static_cast<size_t>(n); left > 0 && got > 0;) {
      if (got >= at->iov_len) {
        got -= at->iov_len;
        ++at, --left;
      } else {
        at->iov_base = static_cast<char*>(at->iov_base) + got;
        at->iov_len -= got;
        got = 0;
      }
    }
    while (left > 0 && at->iov_len == 0) ++at, --left;
  }
  ::close(fd);
  f.bytes_read = total;
  f.crc = crc32c(static_cast<const uint8_t*>(f.iov[1].iov_base), f.iov[1].iov_len);
}

class ReadWorker : public Napi::AsyncWorker {
 public:
  ReadWorker(Napi::Env env, std::vector<FileRead> files, std::vector<Napi::ObjectReference> keep)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), files_(std::move(files)), keep_(std::move(keep)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    for (FileRead& f : files_) read_file(f);
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Array out = Napi::Array::New(env, files_.size());
    for (size_t i = 0; i < files_.size(); ++i) {
      Napi::Object o = Napi::Object::New(env);
      if (!files_[i].error.empty()) {
        o.Set("error", files_[i].error);
      } else {
        o.Set("bytesRead", static_cast<double>(files_[i].bytes_read));
        o.Set("crc", static_cast<double>(files_[i].crc));
      }
      out.Set(static_cast<uint32_t>(i), o);
    }
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<FileRead> files_;
  std::vector<Napi::ObjectReference> keep_;  // the buffers, alive until the reads are done
};

Napi::Value ReadChunkFiles(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray() || !info[1].IsArray()) throw Napi::TypeError::New(env, "readChunkFiles(paths: string[], buffers: Uint8Array[])");
  const Napi::Array paths = info[0].As<Napi::Array>();
  const Napi::Array buffers = info[1].As<Napi::Array>();
  if (buffers.Length() != 3 * paths.Length()) throw Napi::RangeError::New(env, "buffers must hold three Uint8Arrays per path");
  std::vector<FileRead> files(paths.Length());
  std::vector<Napi::ObjectReference> keep;
  keep.reserve(buffers.Length());
  for (uint32_t i = 0; i < paths.Length(); ++i) {
    const Napi::Value p = paths.Get(i);
    if (!p.IsString()) throw Napi::TypeError::New(env, "paths must be strings");
    files[i].path = p.As<Napi::String>().Utf8Value();
    for (uint32_t j = 0; j < 3; ++j) {
      const Napi::Value b = buffers.Get(3 * i + j);
      const Span<uint8_t> s = typed_array<uint8_t>(b, "buffers[i]");
      files[i].iov[j] = iovec{s.data, s.size};
      keep.push_back(Napi::Persistent(b.As<Napi::Object>()));
    }
  }
  auto* worker = new ReadWorker(env, std::move(files), std::move(keep));
  const Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

void RegisterChunkRead(Napi::Env env, Napi::Object exports) { exports.Set("readChunkFiles", Napi::Function::New(env, ReadChunkFiles)); }

}  // namespace

PENSIEVE_REGISTER(RegisterChunkRead);

}  // namespace pensieve
