// Netlink sockets for the TypeScript rtnetlink layer.
//
// Node cannot open AF_NETLINK sockets, enter a network namespace or poll a raw fd, so this file
// does exactly that and nothing more: message framing and attributes live in TypeScript.
// Sockets are non-blocking and their readability is watched with a uv_poll_t on Node's own loop,
// so no call here ever waits for the kernel.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "common.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif

// The kernel sizes dump datagrams to the reader's buffer but never above 32 KiB
// (netlink_recvmsg caps max_recvmsg_len); single messages stay far below 64 KiB.
#define RECV_SLOTS 256
#define RECV_SLOT_SIZE (64 << 10)
#define RECV_BUF_SIZE (RECV_SLOTS * RECV_SLOT_SIZE)
// Socket buffers sized for batches: every request in a batch queues its ACK on our receive queue.
#define SOCK_BUF_SIZE (32 << 20)



// Runs fn(arg) with the calling thread inside the network namespace ns_fd (-1: stay where we are),
// then returns to the original namespace. setns(CLONE_NEWNET) only affects this thread.
int in_netns(int ns_fd, int (*fn)(void *), void *arg) {
  if (ns_fd < 0) return fn(arg);
  int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return -errno;
  if (setns(ns_fd, CLONE_NEWNET) < 0) {
    int err = -errno;
    close(self);
    return err;
  }
  int ret = fn(arg);
  if (setns(self, CLONE_NEWNET) < 0) abort();  // running on in the wrong netns would be worse
  close(self);
  return ret;
}

// Resolves the netns argument: undefined/null (current), a number (an open fd), or a string
// (a path such as /var/run/netns/NAME). *opened tells the caller to close the fd.
bool netns_arg(napi_env env, napi_value v, int *fd, bool *opened) {
  napi_valuetype t;
  *fd = -1;
  *opened = false;
  NAPI_CALL_BOOL(env, napi_typeof(env, v, &t));
  if (t == napi_undefined || t == napi_null) return true;
  if (t == napi_number) {
    int32_t n;
    NAPI_CALL_BOOL(env, napi_get_value_int32(env, v, &n));
    *fd = n;
    return true;
  }
  char path[4096];
  if (!get_string(env, v, path, sizeof path)) return false;
  *fd = open(path, O_RDONLY | O_CLOEXEC);
  if (*fd < 0) {
    throw_errno(env, errno, "open netns", path);
    return false;
  }
  *opened = true;
  return true;
}

struct open_args {
  int protocol;
  int fd;
};

static int do_open(void *p) {
  struct open_args *a = p;
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, a->protocol);
  if (fd < 0) return -errno;
  a->fd = fd;
  return 0;
}

static void set_buf(int fd, int force_opt, int opt) {
  int size = SOCK_BUF_SIZE;
  // The FORCE variants exceed rmem_max/wmem_max and need CAP_NET_ADMIN; fall back quietly.
  if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof size) < 0)
    setsockopt(fd, SOL_SOCKET, opt, &size, sizeof size);
}

// nlOpen(protocol, netns?) -> { fd, portId }
static napi_value nl_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct open_args a = {.protocol = 0, .fd = -1};
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &a.protocol));
  int ns_fd;
  bool opened;
  // napi_get_cb_info fills missing arguments with undefined: no netns means the current one.
  if (!netns_arg(env, argv[1], &ns_fd, &opened)) return NULL;
  int err = in_netns(ns_fd, do_open, &a);
  if (opened) close(ns_fd);
  if (err < 0) return throw_errno(env, -err, "socket(AF_NETLINK)", NULL);

  int one = 1;
  // Both options exist since 4.12 / 4.20; failing to set them means an unusable kernel for us.
  if (setsockopt(a.fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one) < 0 ||
      setsockopt(a.fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one) < 0) {
    int e = errno;
    close(a.fd);
    return throw_errno(env, e, "setsockopt(SOL_NETLINK)", NULL);
  }
  set_buf(a.fd, SO_RCVBUFFORCE, SO_RCVBUF);
  set_buf(a.fd, SO_SNDBUFFORCE, SO_SNDBUF);

  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  socklen_t len = sizeof sa;
  if (bind(a.fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
      getsockname(a.fd, (struct sockaddr *)&sa, &len) < 0) {
    int e = errno;
    close(a.fd);
    return throw_errno(env, e, "bind(AF_NETLINK)", NULL);
  }
  napi_value res, v;
  NAPI_CALL(env, napi_create_object(env, &res));
  NAPI_CALL(env, napi_create_int32(env, a.fd, &v));
  NAPI_CALL(env, napi_set_named_property(env, res, "fd", v));
  NAPI_CALL(env, napi_create_uint32(env, sa.nl_pid, &v));
  NAPI_CALL(env, napi_set_named_property(env, res, "portId", v));
  return res;
}

// nlMembership(fd, group, join)
static napi_value nl_membership(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, group;
  bool join;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  NAPI_CALL(env, napi_get_value_int32(env, argv[1], &group));
  NAPI_CALL(env, napi_get_value_bool(env, argv[2], &join));
  int opt = join ? NETLINK_ADD_MEMBERSHIP : NETLINK_DROP_MEMBERSHIP;
  if (setsockopt(fd, SOL_NETLINK, opt, &group, sizeof group) < 0)
    return throw_errno(env, errno, "setsockopt(NETLINK_ADD_MEMBERSHIP)", NULL);
  return NULL;
}

// nlSend(fd, buffer) -> bytes sent. Netlink requests to the kernel are processed inside sendmsg;
// the socket is non-blocking, so a full kernel side surfaces as EAGAIN rather than a wait.
static napi_value nl_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  void *data;
  size_t len;
  NAPI_CALL(env, napi_get_buffer_info(env, argv[1], &data, &len));
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  ssize_t n;
  do {
    n = sendto(fd, data, len, 0, (struct sockaddr *)&sa, sizeof sa);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, errno, "sendto(netlink)", NULL);
  napi_value res;
  NAPI_CALL(env, napi_create_int64(env, n, &res));
  return res;
}

// nlSendAsync(fd, buffer) -> Promise<bytes>: the same sendto on the libuv thread pool. The kernel
// processes every request of the datagram inside sendmsg, so a large batch would otherwise hold the
// event loop for its whole kernel time; on a worker thread the caller encodes the next batch
// meanwhile. Callers must not start the next send before this one settles (request order).
struct send_work {
  int fd;
  void *data;
  size_t len;
  ssize_t sent;
  int err;
  napi_ref buffer;
  napi_deferred deferred;
  napi_async_work work;
};

static void send_execute(napi_env env, void *p) {
  (void)env;
  struct send_work *w = p;
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
  do {
    w->sent = sendto(w->fd, w->data, w->len, 0, (struct sockaddr *)&sa, sizeof sa);
  } while (w->sent < 0 && errno == EINTR);
  w->err = w->sent < 0 ? errno : 0;
}

static void send_complete(napi_env env, napi_status status, void *p) {
  struct send_work *w = p;
  napi_value v;
  if (status != napi_ok) w->err = ECANCELED;
  if (w->err) {
    throw_errno(env, w->err, "sendto(netlink)", NULL);
    napi_get_and_clear_last_exception(env, &v);
    napi_reject_deferred(env, w->deferred, v);
  } else {
    napi_create_int64(env, w->sent, &v);
    napi_resolve_deferred(env, w->deferred, v);
  }
  napi_delete_reference(env, w->buffer);
  napi_delete_async_work(env, w->work);
  free(w);
}

static napi_value nl_send_async(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct send_work *w = calloc(1, sizeof *w);
  if (!w) return throw_errno(env, ENOMEM, "nlSendAsync", NULL);
  napi_value promise, name;
  if (napi_get_value_int32(env, argv[0], &w->fd) != napi_ok ||
      napi_get_buffer_info(env, argv[1], &w->data, &w->len) != napi_ok) {
    free(w);
    return napi_throw_last(env);
  }
  NAPI_CALL(env, napi_create_reference(env, argv[1], 1, &w->buffer));  // keep the bytes alive
  NAPI_CALL(env, napi_create_promise(env, &w->deferred, &promise));
  NAPI_CALL(env, napi_create_string_utf8(env, "netlink-send", NAPI_AUTO_LENGTH, &name));
  NAPI_CALL(env, napi_create_async_work(env, NULL, name, send_execute, send_complete, w, &w->work));
  NAPI_CALL(env, napi_queue_async_work(env, w->work));
  return promise;
}

// nlRecv(fd, max) -> { data: Buffer, lengths: number[] }: every datagram queued now (up to max),
// back to back in one buffer, never waiting. A batch is answered with one ACK datagram per request,
// so datagrams are fetched with recvmmsg, RECV_SLOTS per system call, and copied out once.
// ENOBUFS (the kernel dropped messages for us) is thrown so the caller can resynchronise.
static char recv_buf[RECV_BUF_SIZE];
static struct mmsghdr recv_msgs[RECV_SLOTS];
static struct iovec recv_iov[RECV_SLOTS];

static napi_value nl_recv(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd, max;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  NAPI_CALL(env, napi_get_value_int32(env, argv[1], &max));
  if (max > RECV_SLOTS) max = RECV_SLOTS;
  if (max < 1) max = 1;
  for (int i = 0; i < max; i++) {
    recv_iov[i].iov_base = recv_buf + (size_t)i * RECV_SLOT_SIZE;
    recv_iov[i].iov_len = RECV_SLOT_SIZE;
    memset(&recv_msgs[i].msg_hdr, 0, sizeof recv_msgs[i].msg_hdr);
    recv_msgs[i].msg_hdr.msg_iov = &recv_iov[i];
    recv_msgs[i].msg_hdr.msg_iovlen = 1;
  }
  int n;
  do {
    n = recvmmsg(fd, recv_msgs, (unsigned)max, MSG_DONTWAIT, NULL);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return throw_errno(env, errno, "recvmmsg(netlink)", NULL);
  if (n < 0) n = 0;
  size_t total = 0;
  for (int i = 0; i < n; i++) {
    if (recv_msgs[i].msg_hdr.msg_flags & MSG_TRUNC) return throw_errno(env, EMSGSIZE, "recvmmsg(netlink)", "datagram larger than a receive slot");
    total += recv_msgs[i].msg_len;
  }
  napi_value res, data, lengths, v;
  void *out;
  NAPI_CALL(env, napi_create_buffer(env, total, &out, &data));
  NAPI_CALL(env, napi_create_array_with_length(env, (size_t)n, &lengths));
  size_t at = 0;
  for (int i = 0; i < n; i++) {
    memcpy((char *)out + at, recv_iov[i].iov_base, recv_msgs[i].msg_len);
    at += recv_msgs[i].msg_len;
    NAPI_CALL(env, napi_create_uint32(env, recv_msgs[i].msg_len, &v));
    NAPI_CALL(env, napi_set_element(env, lengths, (uint32_t)i, v));
  }
  NAPI_CALL(env, napi_create_object(env, &res));
  NAPI_CALL(env, napi_set_named_property(env, res, "data", data));
  NAPI_CALL(env, napi_set_named_property(env, res, "lengths", lengths));
  return res;
}

// ---- readiness: uv_poll_t on the netlink fd, calling back into JS on the loop thread ----

struct watcher {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context ctx;
  bool closed;
};

static void watcher_free(uv_handle_t *h) {
  free(h->data);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)events;
  struct watcher *w = h->data;
  if (w->closed) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(w->env, &scope) != napi_ok) return;
  napi_value cb, recv, arg, result;
  napi_get_reference_value(w->env, w->callback, &cb);
  napi_get_global(w->env, &recv);  // make_callback wants an object receiver
  napi_create_int32(w->env, status, &arg);
  // make_callback runs microtasks afterwards, like any other I/O callback in Node; an exception
  // thrown by the callback surfaces as Node's uncaughtException.
  if (napi_make_callback(w->env, w->ctx, recv, cb, 1, &arg, &result) == napi_pending_exception) {
    napi_value exc;
    napi_get_and_clear_last_exception(w->env, &exc);
    napi_fatal_exception(w->env, exc);
  }
  napi_close_handle_scope(w->env, scope);
}

static void watcher_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  (void)hint;
}

// nlWatch(fd, callback) -> external handle; callback(status) whenever fd is readable.
static napi_value nl_watch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  struct uv_loop_s *loop;
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));
  struct watcher *w = calloc(1, sizeof *w);
  if (!w) return throw_errno(env, ENOMEM, "nlWatch", NULL);
  w->env = env;
  NAPI_CALL(env, napi_create_reference(env, argv[1], 1, &w->callback));
  napi_value name;
  NAPI_CALL(env, napi_create_string_utf8(env, "netlink", NAPI_AUTO_LENGTH, &name));
  NAPI_CALL(env, napi_async_init(env, NULL, name, &w->ctx));
  int err = uv_poll_init(loop, &w->poll, fd);
  if (err == 0) err = uv_poll_start(&w->poll, UV_READABLE, on_poll);
  if (err != 0) {
    napi_delete_reference(env, w->callback);
    napi_async_destroy(env, w->ctx);
    free(w);
    return throw_errno(env, -err, "uv_poll_start", NULL);
  }
  w->poll.data = w;
  napi_value ext;
  NAPI_CALL(env, napi_create_external(env, w, watcher_finalize, NULL, &ext));
  return ext;
}

// nlUnwatch(handle): stops the poll; the handle memory is released by libuv's close callback.
static napi_value nl_unwatch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct watcher *w;
  NAPI_CALL(env, napi_get_value_external(env, argv[0], (void **)&w));
  if (w->closed) return NULL;
  w->closed = true;
  uv_poll_stop(&w->poll);
  napi_delete_reference(env, w->callback);
  napi_async_destroy(env, w->ctx);
  uv_close((uv_handle_t *)&w->poll, watcher_free);
  return NULL;
}

// nlRef(handle, ref): an idle socket must not keep Node alive; the JS side refs it while requests
// are in flight and for monitors.
static napi_value nl_ref(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct watcher *w;
  bool ref;
  NAPI_CALL(env, napi_get_value_external(env, argv[0], (void **)&w));
  NAPI_CALL(env, napi_get_value_bool(env, argv[1], &ref));
  if (w->closed) return NULL;
  if (ref)
    uv_ref((uv_handle_t *)&w->poll);
  else
    uv_unref((uv_handle_t *)&w->poll);
  return NULL;
}

// closeFd(fd)
static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  if (close(fd) < 0) return throw_errno(env, errno, "close", NULL);
  return NULL;
}

// ---- sysctl inside a network namespace: /proc/sys/net resolves against the caller's netns ----

struct sysctl_args {
  const char *path;
  char *value;
  size_t len;
  bool write;
};

static int do_sysctl(void *p) {
  struct sysctl_args *a = p;
  int fd = open(a->path, (a->write ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return -errno;
  ssize_t n = a->write ? write(fd, a->value, a->len) : read(fd, a->value, a->len - 1);
  int err = n < 0 ? -errno : 0;
  close(fd);
  if (err == 0 && !a->write) a->value[n] = 0;
  return err;
}

// sysctl(netns, path, value?) -> string (the value read, or the value written)
static napi_value sysctl(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int ns_fd;
  bool opened;
  if (!netns_arg(env, argv[0], &ns_fd, &opened)) return NULL;
  char path[512], value[4096];
  if (!get_string(env, argv[1], path, sizeof path)) goto fail;
  napi_valuetype t;
  NAPI_CALL(env, napi_typeof(env, argv[2], &t));
  struct sysctl_args a = {.path = path, .value = value, .len = sizeof value, .write = false};
  if (t == napi_string) {
    if (!get_string(env, argv[2], value, sizeof value)) goto fail;
    a.write = true;
    a.len = strlen(value);
  }
  int err = in_netns(ns_fd, do_sysctl, &a);
  if (opened) close(ns_fd);
  if (err < 0) return throw_errno(env, -err, a.write ? "write sysctl" : "read sysctl", path);
  napi_value res;
  NAPI_CALL(env, napi_create_string_utf8(env, value, a.write ? a.len : NAPI_AUTO_LENGTH, &res));
  return res;
fail:
  if (opened) close(ns_fd);
  return NULL;
}

napi_value netlink_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"nlOpen", NULL, nl_open, NULL, NULL, NULL, napi_default, NULL},
      {"nlMembership", NULL, nl_membership, NULL, NULL, NULL, napi_default, NULL},
      {"nlSend", NULL, nl_send, NULL, NULL, NULL, napi_default, NULL},
      {"nlSendAsync", NULL, nl_send_async, NULL, NULL, NULL, napi_default, NULL},
      {"nlRecv", NULL, nl_recv, NULL, NULL, NULL, napi_default, NULL},
      {"nlWatch", NULL, nl_watch, NULL, NULL, NULL, napi_default, NULL},
      {"nlUnwatch", NULL, nl_unwatch, NULL, NULL, NULL, napi_default, NULL},
      {"nlRef", NULL, nl_ref, NULL, NULL, NULL, napi_default, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL},
      {"sysctl", NULL, sysctl, NULL, NULL, NULL, napi_default, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}
