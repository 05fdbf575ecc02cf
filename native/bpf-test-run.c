// BPF_PROG_TEST_RUN, on the thread pool: repeat can make it run for seconds.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf-internal.h"

// Room for what an XDP program may add (bpf_xdp_adjust_head/tail) when the caller does not say.
#define TEST_RUN_GROWTH 4096

struct test_run_work {
  napi_async_work work;
  napi_deferred deferred;
  int prog_fd;  // our own dup: the caller may close theirs while we run
  int ns_fd;    // -1: current netns
  bool ns_opened;
  void *data_in, *data_out, *ctx_in, *ctx_out;  // copies owned here, never JS memory
  struct bpf_test_run_opts opts;
  int err;
};

static void test_run_free(struct test_run_work *w) {
  if (w->prog_fd >= 0) close(w->prog_fd);
  if (w->ns_opened) close(w->ns_fd);
  free(w->data_in);
  free(w->data_out);
  free(w->ctx_in);
  free(w->ctx_out);
  free(w);
}

static int do_test_run(void *p) {
  struct test_run_work *w = p;
  return bpf_prog_test_run_opts(w->prog_fd, &w->opts);
}

// The netns matters for XDP: ctx.ingress_ifindex and bpf_fib_lookup resolve in it.
static void test_run_execute(napi_env env, void *data) {
  (void)env;
  struct test_run_work *w = data;
  w->err = in_netns(w->ns_fd, do_test_run, w);
}

static bool test_run_result(napi_env env, struct test_run_work *w, napi_value *res) {
  napi_value v;
  NAPI_CALL_BOOL(env, napi_create_object(env, res));
  if (!set_u32(env, *res, "retval", w->opts.retval) ||
      !set_u32(env, *res, "durationNs", w->opts.duration))
    return false;
  NAPI_CALL_BOOL(env, napi_create_buffer_copy(env, w->opts.data_size_out, w->data_out, NULL, &v));
  NAPI_CALL_BOOL(env, napi_set_named_property(env, *res, "data", v));
  if (w->ctx_out) {
    NAPI_CALL_BOOL(env, napi_create_buffer_copy(env, w->opts.ctx_size_out, w->ctx_out, NULL, &v));
    NAPI_CALL_BOOL(env, napi_set_named_property(env, *res, "ctx", v));
  }
  return true;
}

static void test_run_complete(napi_env env, napi_status status, void *data) {
  struct test_run_work *w = data;
  napi_value res;
  if (status != napi_ok && !w->err) w->err = ECANCELED;
  if (w->err) {
    const char *detail = w->err == -ENOSPC ? "output larger than dataSizeOut" : NULL;
    napi_reject_deferred(env, w->deferred, make_error(env, w->err, "bpf_prog_test_run", detail, NULL));
  } else if (test_run_result(env, w, &res)) {
    napi_resolve_deferred(env, w->deferred, res);
  } else {
    napi_value e;
    napi_get_and_clear_last_exception(env, &e);
    napi_reject_deferred(env, w->deferred, e);
  }
  napi_delete_async_work(env, w->work);
  test_run_free(w);
}

static bool dup_buffer(napi_env env, napi_value v, void **copy, size_t *len) {
  void *data;
  if (!get_buffer(env, v, &data, len)) return false;
  *copy = malloc(*len ? *len : 1);
  if (!*copy) {
    throw_bpf(env, ENOMEM, "bpfProgTestRun", NULL, NULL);
    return false;
  }
  memcpy(*copy, data, *len);
  return true;
}

// Reads {data, repeat?, ctx?, dataSizeOut?, flags?, cpu?, netns?} into w.
static bool test_run_opts(napi_env env, napi_value o, struct test_run_work *w) {
  napi_value v;
  size_t len;
  uint32_t n;
  if (!get_opt(env, o, "data", &v)) return false;
  if (!v) {
    napi_throw_type_error(env, NULL, "bpfProgTestRun: opts.data (Buffer) is required");
    return false;
  }
  if (!dup_buffer(env, v, &w->data_in, &len)) return false;
  w->opts.data_in = w->data_in;
  w->opts.data_size_in = len;
  w->opts.data_size_out = len + TEST_RUN_GROWTH;
  if (!get_opt(env, o, "dataSizeOut", &v)) return false;
  if (v) NAPI_CALL_BOOL(env, napi_get_value_uint32(env, v, &w->opts.data_size_out));
  if (!(w->data_out = malloc(w->opts.data_size_out ? w->opts.data_size_out : 1))) return false;
  w->opts.data_out = w->data_out;

  if (!get_opt(env, o, "ctx", &v)) return false;
  if (v) {
    if (!dup_buffer(env, v, &w->ctx_in, &len)) return false;
    if (!(w->ctx_out = calloc(1, len ? len : 1))) return false;
    w->opts.ctx_in = w->ctx_in;
    w->opts.ctx_size_in = w->opts.ctx_size_out = len;
    w->opts.ctx_out = w->ctx_out;
  }
  if (!get_opt(env, o, "repeat", &v)) return false;
  if (v) {
    NAPI_CALL_BOOL(env, napi_get_value_uint32(env, v, &n));
    w->opts.repeat = (int)min_size(n, (uint32_t)INT32_MAX);
  }
  if (!get_opt(env, o, "flags", &v)) return false;
  if (v) NAPI_CALL_BOOL(env, napi_get_value_uint32(env, v, &w->opts.flags));
  if (!get_opt(env, o, "cpu", &v)) return false;
  if (v) NAPI_CALL_BOOL(env, napi_get_value_uint32(env, v, &w->opts.cpu));
  if (!get_opt(env, o, "netns", &v)) return false;
  return !v || netns_arg(env, v, &w->ns_fd, &w->ns_opened);
}

// bpfProgTestRun(progFd, {data, repeat?, ctx?, dataSizeOut?, flags?, cpu?, netns?})
//   -> Promise<{retval, data, ctx?, durationNs}>; durationNs is the kernel's average per run.
napi_value prog_test_run(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int32_t fd;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  struct test_run_work *w = calloc(1, sizeof *w);
  if (!w) return throw_bpf(env, ENOMEM, "bpfProgTestRun", NULL, NULL);
  w->opts.sz = sizeof w->opts;
  w->ns_fd = -1;
  w->prog_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  if (w->prog_fd < 0) {
    int err = errno;
    test_run_free(w);
    return throw_bpf(env, err, "bpf_prog_test_run", "program fd", NULL);
  }
  bool pending;
  if (!test_run_opts(env, argv[1], w)) {
    napi_is_exception_pending(env, &pending);
    test_run_free(w);
    return pending ? NULL : throw_bpf(env, ENOMEM, "bpfProgTestRun", NULL, NULL);
  }
  napi_value promise, name;
  napi_status st = napi_create_promise(env, &w->deferred, &promise);
  if (st == napi_ok) st = napi_create_string_utf8(env, "bpfProgTestRun", NAPI_AUTO_LENGTH, &name);
  if (st == napi_ok)
    st = napi_create_async_work(env, NULL, name, test_run_execute, test_run_complete, w, &w->work);
  if (st == napi_ok) st = napi_queue_async_work(env, w->work);
  if (st != napi_ok) {
    test_run_free(w);  // a created promise is simply never settled
    return napi_throw_last(env);
  }
  return promise;
}
