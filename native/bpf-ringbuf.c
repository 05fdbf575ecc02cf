// Ring buffers: libbpf's epoll fd watched by a uv_poll_t on Node's loop; samples reach JS in
// batches, as copies.
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <uv.h>

#include "bpf-internal.h"

// Samples handed to JS per callback at most; the rest waits for the next loop turn so a busy
// producer cannot starve the event loop (the epoll fd stays readable while data is left).
#define RB_BATCH 4096

static const napi_type_tag RB_TAG = {0x7372763662707262ULL, 0x75665f5f5f746167ULL};

struct rb_handle {
  uv_poll_t poll;
  struct ring_buffer *rb;
  napi_env env;
  napi_ref callback;
  napi_ref self;  // an open ring buffer is not collected, like an open socket
  napi_async_context ctx;
  napi_async_cleanup_hook_handle cleanup;  // holds env teardown until our uv handle is closed
  napi_value batch;  // JS array being filled, only during rb_consume
  uint32_t count;
  bool full;         // batch limit reached: consume stopped early on purpose
  bool delivering;   // inside the JS callback: its async context must outlive the call
  bool closed;       // rb_stop ran
  bool uv_closed;    // libuv released the poll handle
  bool finalized;    // the external was collected
};

static void rb_maybe_free(struct rb_handle *h) {
  if (h->uv_closed && h->finalized) free(h);
}

static void rb_on_uv_close(uv_handle_t *uh) {
  struct rb_handle *h = uh->data;
  ring_buffer__free(h->rb);
  h->rb = NULL;
  if (h->cleanup) napi_remove_async_cleanup_hook(h->cleanup);  // teardown may proceed now
  h->cleanup = NULL;
  h->uv_closed = true;
  rb_maybe_free(h);
}

static void rb_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct rb_handle *h = data;
  h->finalized = true;  // only reachable after rb_stop dropped the self reference
  rb_maybe_free(h);
}

static void rb_release(struct rb_handle *h) {
  napi_async_destroy(h->env, h->ctx);
  uv_close((uv_handle_t *)&h->poll, rb_on_uv_close);
}

// Stops delivery at once. When the callback itself closes the ring buffer, releasing the async
// context and the uv handle waits until napi_make_callback has returned (rb_on_poll does it).
static void rb_stop(struct rb_handle *h) {
  if (h->closed) return;
  h->closed = true;
  uv_poll_stop(&h->poll);
  napi_delete_reference(h->env, h->callback);
  napi_delete_reference(h->env, h->self);
  if (!h->delivering) rb_release(h);
}

// Environment teardown (e.g. a worker thread exiting) with the ring buffer still open. An async
// hook, because the uv handle must finish closing while this addon's code is still loaded: a
// plain cleanup hook lets Node unload the addon before libuv runs rb_on_uv_close.
static void rb_cleanup_hook(napi_async_cleanup_hook_handle handle, void *arg) {
  (void)handle;  // the same as h->cleanup, removed by rb_on_uv_close
  rb_stop(arg);
}

// Called by ring_buffer__consume on the loop thread for each sample: copy it into the batch.
static int rb_on_sample(void *ctx, void *data, size_t size) {
  struct rb_handle *h = ctx;
  napi_value buf;
  if (napi_create_buffer_copy(h->env, size, data, NULL, &buf) != napi_ok ||
      napi_set_element(h->env, h->batch, h->count++, buf) != napi_ok)
    return -ENOMEM;
  if (h->count < RB_BATCH) return 0;
  h->full = true;
  return -EAGAIN;  // this sample is consumed; libbpf stops here
}

// Calls the JS callback(samples, err?); a throwing callback is an uncaught exception, as for
// any other I/O callback in Node. napi_make_callback converts its receiver with ToObject, so it
// must be an object (the global), not undefined.
static void rb_deliver(struct rb_handle *h, napi_value batch, napi_value err) {
  napi_value cb, recv, result, argv[2] = {batch, err};
  napi_get_reference_value(h->env, h->callback, &cb);
  napi_get_global(h->env, &recv);
  if (napi_make_callback(h->env, h->ctx, recv, cb, err ? 2 : 1, argv, &result) != napi_ok) {
    bool pending;
    napi_value e;
    napi_is_exception_pending(h->env, &pending);
    if (pending && napi_get_and_clear_last_exception(h->env, &e) == napi_ok)
      napi_fatal_exception(h->env, e);
  }
}

static void rb_on_poll(uv_poll_t *uh, int status, int events) {
  (void)events;
  struct rb_handle *h = uh->data;
  if (h->closed) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(h->env, &scope) != napi_ok) return;
  napi_value err = NULL;
  h->count = 0;
  h->full = false;
  if (napi_create_array(h->env, &h->batch) != napi_ok) goto out;
  int n = status < 0 ? status : ring_buffer__consume(h->rb);
  if (n < 0 && !h->full) {
    // The poll or the ring failed: report it once and stop, rather than spin on a broken fd.
    err = make_error(h->env, -n, status < 0 ? "uv_poll" : "ring_buffer__consume", NULL, NULL);
    uv_poll_stop(&h->poll);
  }
  if (h->count || err) {
    h->delivering = true;
    rb_deliver(h, h->batch, err);
    h->delivering = false;
    if (h->closed) rb_release(h);  // closed from inside the callback
  }
out:
  h->batch = NULL;
  napi_close_handle_scope(h->env, scope);
}

// bpfRingbufOpen(mapFd, callback(samples: Buffer[], err?)) -> handle. Samples are copies.
napi_value rb_open(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  const char *op = "ring_buffer__new";
  int32_t fd;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  napi_valuetype t;
  NAPI_CALL(env, napi_typeof(env, argv[1], &t));
  if (t != napi_function) {
    napi_throw_type_error(env, NULL, "bpfRingbufOpen: callback must be a function");
    return NULL;
  }
  uv_loop_t *loop;
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));
  struct rb_handle *h = calloc(1, sizeof *h);
  if (!h) return throw_bpf(env, ENOMEM, op, NULL, NULL);
  h->env = env;

  struct log log;
  log_begin(&log);
  h->rb = ring_buffer__new(fd, rb_on_sample, h, NULL);
  int err = errno;
  log_end();
  if (!h->rb) {
    free(h);
    throw_bpf(env, err, op, NULL, &log);
    log_free(&log);
    return NULL;
  }
  log_free(&log);
  h->poll.data = h;
  err = uv_poll_init(loop, &h->poll, ring_buffer__epoll_fd(h->rb));
  if (err) {
    ring_buffer__free(h->rb);
    free(h);
    return throw_bpf(env, -err, "uv_poll_init", NULL, NULL);
  }
  h->poll.data = h;  // uv_poll_init does not promise to keep it

  // From here on h is released only by rb_stop -> uv_close and the external's finalizer.
  napi_value ext = NULL, name;
  napi_status st = napi_add_async_cleanup_hook(env, rb_cleanup_hook, h, &h->cleanup);
  if (st == napi_ok) st = napi_create_external(env, h, rb_finalize, NULL, &ext);
  if (!ext) h->finalized = true;  // no external will ever finalize it
  if (st == napi_ok) st = napi_type_tag_object(env, ext, &RB_TAG);
  if (st == napi_ok) st = napi_create_reference(env, argv[1], 1, &h->callback);
  if (st == napi_ok) st = napi_create_reference(env, ext, 1, &h->self);
  if (st == napi_ok) st = napi_create_string_utf8(env, "bpfRingbuf", NAPI_AUTO_LENGTH, &name);
  if (st == napi_ok) st = napi_async_init(env, NULL, name, &h->ctx);
  if (st != napi_ok) {
    napi_throw_last(env);
    rb_stop(h);  // deleting what was never created is a harmless invalid-arg status
    return NULL;
  }
  err = uv_poll_start(&h->poll, UV_READABLE, rb_on_poll);
  if (err) {
    rb_stop(h);
    return throw_bpf(env, -err, "uv_poll_start", NULL, NULL);
  }
  return ext;
}

// bpfRingbufClose(handle): stops delivery now; memory goes when libuv and the GC are done.
napi_value rb_close(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  struct rb_handle *h = get_tagged(env, argv[0], &RB_TAG, "expected a ring buffer handle");
  if (!h) return NULL;
  rb_stop(h);
  return NULL;
}

// bpfRingbufRef(handle, ref): whether an open ring buffer keeps the process alive (default yes).
napi_value rb_ref(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  struct rb_handle *h = get_tagged(env, argv[0], &RB_TAG, "expected a ring buffer handle");
  if (!h) return NULL;
  bool ref;
  NAPI_CALL(env, napi_get_value_bool(env, argv[1], &ref));
  if (!h->closed) {
    if (ref)
      uv_ref((uv_handle_t *)&h->poll);
    else
      uv_unref((uv_handle_t *)&h->poll);
  }
  return NULL;
}
