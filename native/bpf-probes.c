// Probe sets: the bpf_link fds of the tracer's attachments (bpf-probe-attach.c makes them). The
// kernel detaches a link when its last fd closes, so a set JS drops, or a process that ends, leaves
// nothing attached; detaching many links is slow (a trampoline update each), so it runs in
// parallel async works.
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bpf-internal.h"

static const napi_type_tag PS_TAG = {0x7372763670726f62ULL, 0x655f7365745f7467ULL};

static void ps_close_all(struct probe_set *s) {
  for (size_t i = 0; i < s->n; i++) close(s->fds[i]);
  s->n = 0;
}

static void ps_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct probe_set *s = data;
  ps_close_all(s);  // nothing may stay attached because JS forgot a set
  free(s->fds);
  free(s);
}

bool ps_append(struct probe_set *s, const int *fds, size_t n) {
  if (s->n + n > s->cap) {
    size_t cap = s->cap ? s->cap : 256;
    while (cap < s->n + n) cap *= 2;
    int *p = realloc(s->fds, cap * sizeof *p);
    if (!p) return false;
    s->fds = p;
    s->cap = cap;
  }
  memcpy(s->fds + s->n, fds, n * sizeof *fds);
  s->n += n;
  return true;
}

struct probe_set *get_probe_set(napi_env env, napi_value v) {
  return get_tagged(env, v, &PS_TAG, "expected a probe set handle");
}

// bpfProbeSetNew() -> handle
napi_value ps_new(napi_env env, napi_callback_info info) {
  (void)info;
  struct probe_set *s = calloc(1, sizeof *s);
  if (!s) return throw_bpf(env, ENOMEM, "bpfProbeSetNew", NULL, NULL);
  napi_value ext;
  if (napi_create_external(env, s, ps_finalize, NULL, &ext) != napi_ok) {
    free(s);
    return napi_throw_last(env);
  }
  NAPI_CALL(env, napi_type_tag_object(env, ext, &PS_TAG));
  return ext;
}

// bpfProbeSetSize(set) -> number of links held.
napi_value ps_size(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  struct probe_set *s = get_probe_set(env, argv[0]);
  if (!s) return NULL;
  napi_value v;
  NAPI_CALL(env, napi_create_double(env, (double)s->n, &v));
  return v;
}

struct detach_part {
  napi_async_work work;
  int *fds;
  size_t n;
  struct detach_all *all;
};

struct detach_all {
  napi_deferred deferred;
  size_t parts_left;
  size_t closed;
};

static void detach_execute(napi_env env, void *data) {
  (void)env;
  struct detach_part *p = data;
  for (size_t i = 0; i < p->n; i++) close(p->fds[i]);  // a trampoline update each: slow
}

static void detach_complete(napi_env env, napi_status status, void *data) {
  (void)status;  // a cancelled part closes its fds here instead: they must not leak
  struct detach_part *p = data;
  if (status != napi_ok) detach_execute(env, p);
  struct detach_all *all = p->all;
  all->closed += p->n;
  napi_delete_async_work(env, p->work);
  free(p->fds);
  free(p);
  if (--all->parts_left) return;
  napi_value v;
  napi_create_double(env, (double)all->closed, &v);
  napi_resolve_deferred(env, all->deferred, v);
  free(all);
}

// bpfProbeSetDetach(set, parts?) -> Promise<number closed>: takes every link out of the set and
// closes them in `parts` (default 1) parallel works. EBUSY while an attach is in flight.
napi_value ps_detach(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  const char *op = "bpfProbeSetDetach";
  struct probe_set *s = get_probe_set(env, argv[0]);
  if (!s) return NULL;
  if (s->busy) return throw_bpf(env, EBUSY, op, "attach in flight", NULL);
  uint32_t parts = 1;
  if (!is_nullish(env, argv[1])) NAPI_CALL(env, napi_get_value_uint32(env, argv[1], &parts));
  if (parts < 1) parts = 1;
  if (parts > s->n) parts = s->n ? (uint32_t)s->n : 1;
  struct detach_all *all = calloc(1, sizeof *all);
  if (!all) return throw_bpf(env, ENOMEM, op, NULL, NULL);
  napi_value promise, name;
  NAPI_CALL(env, napi_create_promise(env, &all->deferred, &promise));
  NAPI_CALL(env, napi_create_string_utf8(env, op, NAPI_AUTO_LENGTH, &name));
  all->parts_left = parts;
  size_t per = (s->n + parts - 1) / parts, off = 0;
  for (uint32_t i = 0; i < parts; i++) {
    struct detach_part *p = calloc(1, sizeof *p);
    size_t n = min_size(per, s->n - off);
    if (p) p->fds = malloc((n ? n : 1) * sizeof *p->fds);
    if (!p || !p->fds || napi_create_async_work(env, NULL, name, detach_execute, detach_complete, p, &p->work) != napi_ok) {
      // Out of memory: close the rest right here rather than leave probes attached.
      if (p) free(p->fds);
      free(p);
      for (size_t j = off; j < s->n; j++) close(s->fds[j]);
      all->closed += s->n - off;
      off = s->n;
      all->parts_left -= parts - i;  // this part and the ones never created
      if (all->parts_left == 0) {
        napi_value v;
        napi_create_double(env, (double)all->closed, &v);
        napi_resolve_deferred(env, all->deferred, v);
        free(all);
      }
      break;
    }
    memcpy(p->fds, s->fds + off, n * sizeof *p->fds);
    p->n = n;
    p->all = all;
    off += n;
    if (napi_queue_async_work(env, p->work) != napi_ok) detach_complete(env, napi_generic_failure, p);
  }
  s->n = 0;
  return promise;
}

// bpfProbeSetCloseSync(set) -> number closed: the exit path, where nothing async can run.
napi_value ps_close_sync(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  struct probe_set *s = get_probe_set(env, argv[0]);
  if (!s) return NULL;
  size_t n = s->n;
  ps_close_all(s);
  napi_value v;
  NAPI_CALL(env, napi_create_double(env, (double)n, &v));
  return v;
}

// bpfBtfObjFd(name) -> fd of the kernel BTF object named `name` ("vmlinux" or a module): the
