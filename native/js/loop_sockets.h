// The TCP connections another addon polls on this thread's event loop, seen through libuv. For the
// uWebSockets.js build we can use (20.30), which has no App.close(): an HTTP worker thread that exits
// while uWS still polls an idle keep-alive connection aborts the process (Node checks that a worker's
// loop has no open handle left). Shutting those sockets down makes uWS see the peer go and close them
// itself, through its own code; nothing of uWS's state is touched from here.
#pragma once

#include <napi.h>

namespace tg {

// loopSockets(shutdown: boolean) => number: the connected stream sockets polled (uv_poll) on this
// thread's loop; with `shutdown`, each is shut down for reading and writing first (they close once
// the loop runs). Listening sockets are left alone.
Napi::Value LoopSockets(const Napi::CallbackInfo& info);

}  // namespace tg
