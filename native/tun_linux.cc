// Linux TUN binding for devnet.
//
// Thin by design (ARCHITECTURE.md, "native/"): open and configure a TUN
// device, move packets in batches between the kernel and JavaScript, and pass
// file descriptors between the root helper and the user daemon. Everything
// else lives in TypeScript.
//
// Read contract: when the fd is readable, drain it until EAGAIN or until
// `maxBatch` packets, then call onPackets(Uint8Array[]) once. Packets are
// views into large slabs that are never reused, so JS may keep them.
// Write contract: write(packets) writes each packet with one writev(2)
// (a packet may be given in parts: header + payload, no copy) and returns how
// many packets the kernel took; on EAGAIN the poller arms for writability and
// calls onWritable() once the fd can take more. No packet, however built,
// makes write throw: parts beyond IOV_MAX are gathered into one buffer, and a
// packet that is not bytes is counted as a write error and skipped.
// No exception thrown by a JS callback unwinds through libuv: it is passed to
// onError (and, should that throw too, to Node's uncaught-exception handling).
//
// References: Documentation/networking/tuntap.rst; tun(4) ioctls
// TUNSETIFF, TUNSETOWNER, TUNSETGROUP, TUNSETPERSIST; unix(7) SCM_RIGHTS.

#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <initializer_list>
#include <string>
#include <vector>

namespace {

// ErrnoError builds a JS Error carrying errno's code, the syscall and the
// device, in the shape Node's own system errors have.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall,
                       const std::string& device) {
  std::string msg = std::string(syscall) + " failed";
  if (!device.empty()) msg += " for " + device;
  msg += ": " + std::string(strerror(err));
  Napi::Error e = Napi::Error::New(env, msg);
  const char* name = uv_err_name(-err);
  e.Set("code", Napi::String::New(env, name ? name : "EUNKNOWN"));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, syscall));
  if (!device.empty()) e.Set("device", Napi::String::New(env, device));
  return e;
}

std::string IfName(const Napi::Value& v) {
  std::string name = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  return name;
}

// openTun(name, {multiQueue, blocking}) -> {fd, name}. An empty name lets the
// kernel choose (tun%d). The fd is close-on-exec and non-blocking unless
// `blocking` is asked for (only the naive benchmark baseline does).
Napi::Value OpenTun(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = IfName(info[0]);
  if (name.size() >= IFNAMSIZ) {
    throw Napi::TypeError::New(env, "interface name longer than 15 bytes: " + name);
  }
  bool multiQueue = false;
  bool blocking = false;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    multiQueue = o.Get("multiQueue").ToBoolean();
    blocking = o.Get("blocking").ToBoolean();
  }
  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | (blocking ? 0 : O_NONBLOCK));
  if (fd < 0) throw ErrnoError(env, errno, "open /dev/net/tun", name);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (multiQueue ? IFF_MULTI_QUEUE : 0);
  strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    throw ErrnoError(env, err, "ioctl(TUNSETIFF)", name);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("fd", Napi::Number::New(env, fd));
  result.Set("name", Napi::String::New(env, ifr.ifr_name));
  return result;
}

// tunIoctl(fd, request, value, device): TUNSETOWNER / TUNSETGROUP /
// TUNSETPERSIST, which all take an integer argument.
Napi::Value TunIoctl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  std::string what = info[1].As<Napi::String>().Utf8Value();
  unsigned long value = info[2].As<Napi::Number>().Uint32Value();
  std::string device = info.Length() > 3 ? IfName(info[3]) : "";
  unsigned long req;
  const char* syscall;
  if (what == "owner") {
    req = TUNSETOWNER;
    syscall = "ioctl(TUNSETOWNER)";
  } else if (what == "group") {
    req = TUNSETGROUP;
    syscall = "ioctl(TUNSETGROUP)";
  } else if (what == "persist") {
    req = TUNSETPERSIST;
    syscall = "ioctl(TUNSETPERSIST)";
  } else {
    throw Napi::TypeError::New(env, "unknown tun ioctl: " + what);
  }
  if (ioctl(fd, req, value) < 0) throw ErrnoError(env, errno, syscall, device);
  return env.Undefined();
}

int WithInetSocket(int (*fn)(int, struct ifreq*), struct ifreq* ifr) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return -1;
  int rc = fn(s, ifr);
  int err = errno;
  close(s);
  errno = err;
  return rc;
}

// setMtu(name, mtu): SIOCSIFMTU. Linux TUN accepts up to 65535.
Napi::Value SetMtu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = IfName(info[0]);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  ifr.ifr_mtu = info[1].As<Napi::Number>().Int32Value();
  int rc = WithInetSocket([](int s, struct ifreq* r) { return ioctl(s, SIOCSIFMTU, r); }, &ifr);
  if (rc < 0) throw ErrnoError(env, errno, "ioctl(SIOCSIFMTU)", name);
  return env.Undefined();
}

// setUp(name, up): set or clear IFF_UP.
Napi::Value SetUp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = IfName(info[0]);
  bool up = info[1].ToBoolean();
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  int rc = WithInetSocket([](int s, struct ifreq* r) { return ioctl(s, SIOCGIFFLAGS, r); }, &ifr);
  if (rc < 0) throw ErrnoError(env, errno, "ioctl(SIOCGIFFLAGS)", name);
  if (up) {
    ifr.ifr_flags |= IFF_UP;
  } else {
    ifr.ifr_flags &= ~IFF_UP;
  }
  rc = WithInetSocket([](int s, struct ifreq* r) { return ioctl(s, SIOCSIFFLAGS, r); }, &ifr);
  if (rc < 0) throw ErrnoError(env, errno, "ioctl(SIOCSIFFLAGS)", name);
  return env.Undefined();
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (close(fd) < 0 && errno != EINTR) {
    throw ErrnoError(info.Env(), errno, "close", "");
  }
  return info.Env().Undefined();
}

bool FillUnixAddr(const std::string& path, struct sockaddr_un* addr) {
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr->sun_path)) return false;
  memcpy(addr->sun_path, path.c_str(), path.size());
  return true;
}

// sendFd(socketPath, fd): connect to a unix stream socket and pass fd with
// SCM_RIGHTS (unix(7)). Used by the root helper to hand the TUN to the
// daemon, so the device dies with the daemon's last descriptor.
Napi::Value SendFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int fd = info[1].As<Napi::Number>().Int32Value();
  struct sockaddr_un addr;
  if (!FillUnixAddr(path, &addr)) throw Napi::TypeError::New(env, "socket path too long: " + path);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) throw ErrnoError(env, errno, "socket", path);
  if (connect(s, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)) < 0) {
    int err = errno;
    close(s);
    throw ErrnoError(env, err, "connect", path);
  }
  char byte = 'T';
  struct iovec iov = {&byte, 1};
  char control[CMSG_SPACE(sizeof(int))];
  memset(control, 0, sizeof(control));
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
  ssize_t n;
  do {
    n = sendmsg(s, &msg, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  int err = errno;
  close(s);
  if (n < 0) throw ErrnoError(env, err, "sendmsg", path);
  return env.Undefined();
}

// ReceiveFdWorker waits up to timeoutMs on a listening unix socket (already
// bound, mode 0600, by ReceiveFd on the calling thread, so a peer may connect
// as soon as receiveFd returns) for one peer to pass an fd.
class ReceiveFdWorker : public Napi::AsyncWorker {
 public:
  ReceiveFdWorker(Napi::Function cb, std::string path, int listenFd, int timeoutMs)
      : Napi::AsyncWorker(cb), path_(std::move(path)), listenFd_(listenFd), timeoutMs_(timeoutMs) {}

  void Execute() override {
    int s = listenFd_;
    struct pollfd pfd = {s, POLLIN, 0};
    int rc;
    do {
      rc = poll(&pfd, 1, timeoutMs_);
    } while (rc < 0 && errno == EINTR);
    if (rc <= 0) {
      int err = rc == 0 ? ETIMEDOUT : errno;
      close(s);
      unlink(path_.c_str());
      return Fail(err, "poll");
    }
    int c = accept4(s, nullptr, nullptr, SOCK_CLOEXEC);
    int acceptErr = errno;
    close(s);
    unlink(path_.c_str());
    if (c < 0) return Fail(acceptErr, "accept");
    char byte;
    struct iovec iov = {&byte, 1};
    char control[CMSG_SPACE(sizeof(int))];
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    // Bound the wait for the message itself too.
    struct timeval tv = {timeoutMs_ / 1000, (timeoutMs_ % 1000) * 1000};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t n;
    do {
      n = recvmsg(c, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    int err = errno;
    close(c);
    if (n <= 0) return Fail(n == 0 ? ECONNRESET : err, "recvmsg");
    struct cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    if (cmsg == nullptr || cmsg->cmsg_type != SCM_RIGHTS) return Fail(EBADMSG, "recvmsg");
    memcpy(&fd_, CMSG_DATA(cmsg), sizeof(int));
    int flags = fcntl(fd_, F_GETFL);
    if (flags >= 0) fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
  }

  void OnOK() override { Callback().Call({Env().Null(), Napi::Number::New(Env(), fd_)}); }

  void OnError(const Napi::Error&) override {
    Callback().Call({ErrnoError(Env(), err_, syscall_, path_).Value(), Env().Undefined()});
  }

 private:
  void Fail(int err, const char* syscall) {
    err_ = err;
    syscall_ = syscall;
    SetError("failed");
  }
  std::string path_;
  int listenFd_;
  int timeoutMs_;
  int fd_ = -1;
  int err_ = 0;
  const char* syscall_ = "";
};

// receiveFd(path, timeoutMs, cb): bind and listen on path now (mode 0600),
// then wait in the background; cb(err, fd) once a peer passed a descriptor.
Napi::Value ReceiveFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int timeoutMs = info[1].As<Napi::Number>().Int32Value();
  struct sockaddr_un addr;
  if (!FillUnixAddr(path, &addr)) throw Napi::TypeError::New(env, "socket path too long: " + path);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) throw ErrnoError(env, errno, "socket", path);
  unlink(path.c_str());
  mode_t old = umask(0077);
  int rc = bind(s, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr));
  umask(old);
  if (rc < 0 || listen(s, 1) < 0) {
    int err = errno;
    close(s);
    throw ErrnoError(env, err, "bind", path);
  }
  auto* w = new ReceiveFdWorker(info[2].As<Napi::Function>(), path, s, timeoutMs);
  w->Queue();
  return env.Undefined();
}

// BytesOf points iov at the bytes of v when v is a Uint8Array (a Buffer is
// one); false for anything else. It never throws.
bool BytesOf(napi_env env, napi_value v, struct iovec* iov) {
  bool isTyped = false;
  if (napi_is_typedarray(env, v, &isTyped) != napi_ok || !isTyped) return false;
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, nullptr, nullptr) != napi_ok) return false;
  if (type != napi_uint8_array) return false;
  iov->iov_base = data;
  iov->iov_len = length;
  return true;
}

// GatherPacket fills iov with the parts of one packet (a Uint8Array, or an
// array of them); false when the packet is anything else. It never throws.
bool GatherPacket(napi_env env, napi_value p, std::vector<struct iovec>* iov) {
  iov->clear();
  struct iovec one;
  if (BytesOf(env, p, &one)) {
    iov->push_back(one);
    return true;
  }
  bool isArray = false;
  if (napi_is_array(env, p, &isArray) != napi_ok || !isArray) return false;
  uint32_t n = 0;
  if (napi_get_array_length(env, p, &n) != napi_ok) return false;
  for (uint32_t j = 0; j < n; j++) {
    napi_value part;
    if (napi_get_element(env, p, j, &part) != napi_ok || !BytesOf(env, part, &one)) return false;
    iov->push_back(one);
  }
  return true;
}

// Slab is a block of packet memory handed to JS as an external ArrayBuffer;
// it is freed by V8 when the last view into it is collected.
void FreeSlab(Napi::Env, void* data) { free(data); }

// TunPoller drives one non-blocking TUN fd from the libuv loop.
class TunPoller : public Napi::ObjectWrap<TunPoller> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "TunPoller",
                       {InstanceMethod("write", &TunPoller::Write),
                        InstanceMethod("pause", &TunPoller::Pause),
                        InstanceMethod("resume", &TunPoller::Resume),
                        InstanceMethod("close", &TunPoller::Close),
                        InstanceMethod("stats", &TunPoller::Stats)});
  }

  // new TunPoller(fd, {mtu, maxBatch, slabSize}, onPackets, onWritable, onError)
  explicit TunPoller(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TunPoller>(info) {
    Napi::Env env = info.Env();
    fd_ = info[0].As<Napi::Number>().Int32Value();
    Napi::Object opts = info[1].As<Napi::Object>();
    mtu_ = opts.Get("mtu").As<Napi::Number>().Uint32Value();
    maxBatch_ = opts.Get("maxBatch").As<Napi::Number>().Uint32Value();
    slabSize_ = opts.Get("slabSize").As<Napi::Number>().Uint32Value();
    if (mtu_ < 68 || mtu_ > 65535 || maxBatch_ == 0 || slabSize_ < mtu_) {
      throw Napi::RangeError::New(env, "TunPoller: need 68 <= mtu <= 65535, maxBatch > 0, slabSize >= mtu");
    }
    onPackets_ = Napi::Persistent(info[2].As<Napi::Function>());
    onWritable_ = Napi::Persistent(info[3].As<Napi::Function>());
    onError_ = Napi::Persistent(info[4].As<Napi::Function>());
    poll_ = new uv_poll_t;
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    int rc = uv_poll_init(loop, poll_, fd_);
    if (rc != 0) {
      delete poll_;
      poll_ = nullptr;
      throw ErrnoError(env, -rc, "uv_poll_init", "");
    }
    poll_->data = this;
    events_ = UV_READABLE;
    uv_poll_start(poll_, events_, OnPoll);
    Ref();  // alive while polling
  }

  ~TunPoller() override { ReleaseSlab(); }

 private:
  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<TunPoller*>(handle->data);
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    if (status < 0) {
      self->Report(ErrnoError(env, -status, "poll", "").Value());
      return;
    }
    if (events & UV_WRITABLE) {
      self->SetEvents(self->events_ & ~UV_WRITABLE);
      self->CallJs(self->onWritable_, {});
      if (self->closed_) return;
    }
    if (events & UV_READABLE) self->Drain(env);
  }

  // CallJs runs a JS callback from the libuv loop. A throw must not unwind
  // through libuv (with C++ exceptions on, that is std::terminate): it is
  // handed to onError instead.
  void CallJs(Napi::FunctionReference& fn, std::initializer_list<napi_value> args) {
    try {
      fn.Call(args);
    } catch (const Napi::Error& e) {
      Report(e.Value());
    }
  }

  // Report passes err to onError; should onError throw as well, the error
  // goes to Node's uncaught-exception handling (as a throw from any other
  // callback would), never through libuv.
  void Report(napi_value err) {
    try {
      onError_.Call({err});
    } catch (const Napi::Error& e) {
      napi_fatal_exception(Env(), e.Value());
    }
  }

  void SetEvents(int events) {
    if (closed_ || events == events_) return;
    events_ = events;
    if (events_ == 0) {
      uv_poll_stop(poll_);
    } else {
      uv_poll_start(poll_, events_, OnPoll);
    }
  }

  void ReleaseSlab() {
    if (!slabRef_.IsEmpty()) slabRef_.Reset();
    slab_ = nullptr;
    slabOff_ = 0;
  }

  bool EnsureSlab(Napi::Env env) {
    if (slab_ != nullptr && slabSize_ - slabOff_ >= mtu_) return true;
    ReleaseSlab();
    void* mem = malloc(slabSize_);
    if (mem == nullptr) return false;
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, mem, slabSize_, FreeSlab);
    slabRef_ = Napi::Persistent(ab);
    slab_ = static_cast<uint8_t*>(mem);
    slabOff_ = 0;
    return true;
  }

  void Drain(Napi::Env env) {
    std::vector<napi_value> packets;
    packets.reserve(16);
    int failErr = 0;
    while (packets.size() < maxBatch_) {
      if (!EnsureSlab(env)) {
        failErr = ENOMEM;
        break;
      }
      ssize_t n = read(fd_, slab_ + slabOff_, slabSize_ - slabOff_);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) failErr = errno;
        break;
      }
      if (n == 0) break;
      napi_value view;
      napi_create_typedarray(env, napi_uint8_array, n, slabRef_.Value(), slabOff_, &view);
      packets.push_back(view);
      slabOff_ += (static_cast<size_t>(n) + 15) & ~static_cast<size_t>(15);
      packetsRead_++;
      bytesRead_ += n;
    }
    batches_++;
    if (!packets.empty()) {
      napi_value arr;
      napi_create_array_with_length(env, packets.size(), &arr);
      for (size_t i = 0; i < packets.size(); i++) napi_set_element(env, arr, i, packets[i]);
      CallJs(onPackets_, {arr});
    }
    if (failErr != 0 && !closed_) {
      Report(ErrnoError(env, failErr, "read", "").Value());
    }
  }

  // write(packets: (Uint8Array | Uint8Array[])[]) -> number of packets taken.
  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (closed_) throw Napi::Error::New(env, "write on a closed TUN device");
    if (!info[0].IsArray()) throw Napi::TypeError::New(env, "write takes an array of packets");
    Napi::Array packets = info[0].As<Napi::Array>();
    uint32_t count = packets.Length();
    uint32_t written = 0;
    for (; written < count; written++) {
      napi_value p;
      if (napi_get_element(env, packets, written, &p) != napi_ok || !GatherPacket(env, p, &iov_)) {
        // Not bytes: counted and skipped, as a malformed packet the kernel refuses would be.
        writeErrors_++;
        lastWriteErrno_ = EINVAL;
        continue;
      }
      if (iov_.size() > IOV_MAX) {
        // writev(2) takes at most IOV_MAX parts: gather them into one buffer.
        scratch_.clear();
        for (const struct iovec& v : iov_) {
          const uint8_t* b = static_cast<const uint8_t*>(v.iov_base);
          scratch_.insert(scratch_.end(), b, b + v.iov_len);
        }
        iov_.assign(1, {scratch_.data(), scratch_.size()});
      }
      ssize_t n;
      do {
        n = writev(fd_, iov_.data(), static_cast<int>(iov_.size()));
      } while (n < 0 && errno == EINTR);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
          SetEvents(events_ | UV_WRITABLE);
          break;
        }
        // A malformed packet (EINVAL) or an interface that is down (EIO) is
        // counted and dropped: one bad packet must not stop the others.
        writeErrors_++;
        lastWriteErrno_ = errno;
        continue;
      }
      packetsWritten_++;
      bytesWritten_ += n;
    }
    return Napi::Number::New(env, written);
  }

  Napi::Value Pause(const Napi::CallbackInfo& info) {
    SetEvents(events_ & ~UV_READABLE);
    return info.Env().Undefined();
  }

  Napi::Value Resume(const Napi::CallbackInfo& info) {
    SetEvents(events_ | UV_READABLE);
    return info.Env().Undefined();
  }

  // close(): stop polling and close the fd. Idempotent; no callback runs after it.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    if (!closed_) {
      closed_ = true;
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_),
               [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
      poll_ = nullptr;
      close(fd_);
      fd_ = -1;
      ReleaseSlab();
      Unref();
    }
    return info.Env().Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("packetsRead", Napi::Number::New(env, static_cast<double>(packetsRead_)));
    o.Set("bytesRead", Napi::Number::New(env, static_cast<double>(bytesRead_)));
    o.Set("packetsWritten", Napi::Number::New(env, static_cast<double>(packetsWritten_)));
    o.Set("bytesWritten", Napi::Number::New(env, static_cast<double>(bytesWritten_)));
    o.Set("readBatches", Napi::Number::New(env, static_cast<double>(batches_)));
    o.Set("writeErrors", Napi::Number::New(env, static_cast<double>(writeErrors_)));
    o.Set("lastWriteErrno", Napi::Number::New(env, lastWriteErrno_));
    return o;
  }

  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  int events_ = 0;
  bool closed_ = false;
  uint32_t mtu_ = 0, maxBatch_ = 0, slabSize_ = 0;
  Napi::FunctionReference onPackets_, onWritable_, onError_;
  Napi::Reference<Napi::ArrayBuffer> slabRef_;
  std::vector<struct iovec> iov_;   // the parts of the packet being written
  std::vector<uint8_t> scratch_;    // a packet of more than IOV_MAX parts, gathered
  uint8_t* slab_ = nullptr;
  size_t slabOff_ = 0;
  uint64_t packetsRead_ = 0, bytesRead_ = 0, packetsWritten_ = 0, bytesWritten_ = 0;
  uint64_t batches_ = 0, writeErrors_ = 0;
  int lastWriteErrno_ = 0;
};

// checksum(data, initial) -> the 16-bit one's-complement sum (RFC 1071) of
// data added to initial, not complemented, so callers can chain the
// pseudo-header, header and payload and complement once at the end.
Napi::Value Checksum(const Napi::CallbackInfo& info) {
  Napi::Uint8Array a = info[0].As<Napi::Uint8Array>();
  uint64_t sum = info.Length() > 1 ? info[1].As<Napi::Number>().Uint32Value() : 0;
  const uint8_t* p = a.Data();
  size_t n = a.ByteLength();
  // Sum 16-bit big-endian words; accumulate 32-bit loads for speed.
  while (n >= 4) {
    uint32_t w = (static_cast<uint32_t>(p[0]) << 8 | p[1]) + (static_cast<uint32_t>(p[2]) << 8 | p[3]);
    sum += w;
    p += 4;
    n -= 4;
  }
  if (n >= 2) {
    sum += static_cast<uint32_t>(p[0]) << 8 | p[1];
    p += 2;
    n -= 2;
  }
  if (n == 1) sum += static_cast<uint32_t>(p[0]) << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return Napi::Number::New(info.Env(), static_cast<double>(sum));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("platform", Napi::String::New(env, "linux"));
  exports.Set("openTun", Napi::Function::New(env, OpenTun));
  exports.Set("tunIoctl", Napi::Function::New(env, TunIoctl));
  exports.Set("setMtu", Napi::Function::New(env, SetMtu));
  exports.Set("setUp", Napi::Function::New(env, SetUp));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  exports.Set("sendFd", Napi::Function::New(env, SendFd));
  exports.Set("receiveFd", Napi::Function::New(env, ReceiveFd));
  exports.Set("checksum", Napi::Function::New(env, Checksum));
  exports.Set("TunPoller", TunPoller::Init(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(devnet_tun, Init)
