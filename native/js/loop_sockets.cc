#include "js/loop_sockets.h"

#include <sys/socket.h>

#include <cstring>

// libuv entry points (Node exports them; the Node-API headers do not declare them).
extern "C" {
struct uv_loop_s;
typedef void (*uv_walk_cb)(void* handle, void* arg);
void uv_walk(uv_loop_s* loop, uv_walk_cb cb, void* arg);
int uv_handle_get_type(const void* handle);
const char* uv_handle_type_name(int type);
int uv_is_active(const void* handle);
int uv_is_closing(const void* handle);
int uv_fileno(const void* handle, int* fd);
}

namespace tg {
namespace {

struct Walk {
  bool shutdown = false;
  int count = 0;
};

void Visit(void* handle, void* arg) {
  auto* walk = static_cast<Walk*>(arg);
  const char* type = uv_handle_type_name(uv_handle_get_type(handle));
  if (type == nullptr || std::strcmp(type, "poll") != 0 || !uv_is_active(handle) || uv_is_closing(handle)) return;
  int fd = -1;
  if (uv_fileno(handle, &fd) != 0 || fd < 0) return;
  int kind = 0, listening = 0;
  socklen_t len = sizeof(kind);
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &kind, &len) != 0 || kind != SOCK_STREAM) return;
  len = sizeof(listening);
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening) return;
  ++walk->count;
  if (walk->shutdown) ::shutdown(fd, SHUT_RDWR);
}

}  // namespace

Napi::Value LoopSockets(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uv_loop_s* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) return Napi::Number::New(env, 0);
  Walk walk;
  walk.shutdown = info.Length() > 0 && info[0].ToBoolean().Value();
  uv_walk(loop, Visit, &walk);
  return Napi::Number::New(env, walk.count);
}

}  // namespace tg
