// Stub binding for platforms without a TUN implementation yet. It loads, so
// the rest of devnet (CLI, sandbox-free tests) works, and every device call
// fails with a clear message. See src/tun/native.ts.
#include <napi.h>

namespace {
Napi::Value Unsupported(const Napi::CallbackInfo& info) {
  Napi::Error e = Napi::Error::New(info.Env(), "TUN devices are not supported on this platform yet (Linux only)");
  e.Set("code", Napi::String::New(info.Env(), "ENOTSUP"));
  throw e;
}
Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("platform", Napi::String::New(env, "unsupported"));
  const char* names[] = {"openTun", "tunIoctl", "setMtu", "setUp", "closeFd", "sendFd", "receiveFd", "checksum", "TunPoller"};
  for (const char* n : names) exports.Set(n, Napi::Function::New(env, Unsupported));
  return exports;
}
}  // namespace
NODE_API_MODULE(devnet_tun, Init)
