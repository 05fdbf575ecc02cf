// What the libbpf half's files (bpf-*.c) share: libbpf message capture, the error shape, argument
// helpers, the probe set, and the N-API callbacks that bpf.c registers.
#pragma once
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdint.h>

#include "common.h"

// Shared between this addon's files only: hidden, so the .node exports what it did before and no
// symbol of the host process can stand in for one of these.
#pragma GCC visibility push(hidden)

#define GET_ARGS(n)                                                    \
  size_t argc = (n);                                                   \
  napi_value argv[(n)];                                                \
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL))

static inline size_t min_size(size_t a, size_t b) {
  return a < b ? a : b;
}

// ---- libbpf's messages, captured per call (bpf-errors.c) ----

struct log {
  char *buf;    // LOG_MAX + 1 bytes once something was logged, NUL-terminated
  size_t len;
  size_t keep;  // after the first overflow: bytes before this point are never dropped
};

// Routes libbpf's messages through the capture below (once, at module init).
void log_install(void);
// From now until log_end, libbpf's messages on this thread go to l instead of stderr.
void log_begin(struct log *l);
void log_end(void);
void log_free(struct log *l);

// ---- errors: Error{message, errno, code, op, log?}, the shape src/bpf/errors.ts maps ----

// err may be negative (libbpf's -errno) or 0 (then EINVAL); log, when it holds text, is appended.
napi_value make_error(napi_env env, int err, const char *op, const char *detail, const struct log *log);
// Throws make_error's Error; returns NULL.
napi_value throw_bpf(napi_env env, int err, const char *op, const char *detail, const struct log *log);

// ---- small argument and result helpers (bpf-args.c) ----

bool is_nullish(napi_env env, napi_value v);
bool get_buffer(napi_env env, napi_value v, void **data, size_t *len);
// Reads an optional property; *v is left NULL when it is absent, undefined or null.
bool get_opt(napi_env env, napi_value obj, const char *name, napi_value *v);
bool set_u32(napi_env env, napi_value obj, const char *name, uint32_t value);
bool set_i32(napi_env env, napi_value obj, const char *name, int32_t value);
bool set_str(napi_env env, napi_value obj, const char *name, const char *value);
napi_value make_bool(napi_env env, bool b);
napi_value make_i32(napi_env env, int32_t n);
// The data of an external carrying `tag`; otherwise throws a TypeError saying `what`, returns NULL.
void *get_tagged(napi_env env, napi_value v, const napi_type_tag *tag, const char *what);

// ---- probe sets (bpf-probes.c), filled by bpf-probe-attach.c ----

struct probe_set {
  int *fds;  // link fds; the set owns them
  size_t n, cap;
  uint32_t busy;  // attach works in flight: their links join the set when they complete
};

struct probe_set *get_probe_set(napi_env env, napi_value v);
// Hands n link fds over to the set; false (and nothing taken) when out of memory.
bool ps_append(struct probe_set *s, const int *fds, size_t n);

// ---- the N-API callbacks, registered in bpf.c ----

// bpf-object.c
napi_value obj_open(napi_env env, napi_callback_info info);
napi_value obj_set_global(napi_env env, napi_callback_info info);
napi_value obj_set_max_entries(napi_env env, napi_callback_info info);
napi_value obj_load(napi_env env, napi_callback_info info);
napi_value obj_prog_fd(napi_env env, napi_callback_info info);
napi_value obj_map_fd(napi_env env, napi_callback_info info);
napi_value obj_map_info(napi_env env, napi_callback_info info);
napi_value obj_close(napi_env env, napi_callback_info info);
napi_value prog_setup(napi_env env, napi_callback_info info);
napi_value prog_insns(napi_env env, napi_callback_info info);
// bpf-map.c
napi_value map_info_fd(napi_env env, napi_callback_info info);
napi_value map_update(napi_env env, napi_callback_info info);
napi_value map_lookup(napi_env env, napi_callback_info info);
napi_value map_delete(napi_env env, napi_callback_info info);
napi_value map_next_key(napi_env env, napi_callback_info info);
napi_value possible_cpus(napi_env env, napi_callback_info info);
// bpf-link.c
napi_value obj_pin(napi_env env, napi_callback_info info);
napi_value obj_get(napi_env env, napi_callback_info info);
napi_value xdp_link_create(napi_env env, napi_callback_info info);
napi_value link_update(napi_env env, napi_callback_info info);
napi_value link_detach(napi_env env, napi_callback_info info);
napi_value link_info(napi_env env, napi_callback_info info);
napi_value prog_info(napi_env env, napi_callback_info info);
// bpf-test-run.c
napi_value prog_test_run(napi_env env, napi_callback_info info);
// bpf-ringbuf.c
napi_value rb_open(napi_env env, napi_callback_info info);
napi_value rb_close(napi_env env, napi_callback_info info);
napi_value rb_ref(napi_env env, napi_callback_info info);
// bpf-features.c
napi_value features(napi_env env, napi_callback_info info);
// bpf-probes.c
napi_value ps_new(napi_env env, napi_callback_info info);
napi_value ps_size(napi_env env, napi_callback_info info);
napi_value ps_detach(napi_env env, napi_callback_info info);
napi_value ps_close_sync(napi_env env, napi_callback_info info);
// bpf-probe-attach.c
napi_value ps_attach(napi_env env, napi_callback_info info);
napi_value btf_obj_fd(napi_env env, napi_callback_info info);
napi_value kprobe_pmu_info(napi_env env, napi_callback_info info);

#pragma GCC visibility pop
