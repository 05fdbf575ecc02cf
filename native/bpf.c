// libbpf half of the addon: BPF objects, maps, pinning, XDP bpf_links, BPF_PROG_TEST_RUN and
// ring buffers, on top of the system libbpf.
//
// JS gets plain fds for maps, programs and links (the kernel's own handles: cheap to pin, dup and
// inspect) and external handles only where libbpf owns state (bpf_object, ring_buffer). Anything
// that can take long (the verifier, test runs with many repeats) runs as async work on libuv's
// thread pool and returns a Promise; everything else is a single short syscall.
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "common.h"

#define GET_ARGS(n)                                                    \
  size_t argc = (n);                                                   \
  napi_value argv[(n)];                                                \
  NAPI_CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL))

static size_t min_size(size_t a, size_t b) {
  return a < b ? a : b;
}

// ---- libbpf's messages, captured per call so the verifier's explanation reaches the JS error ----

// A verifier log can be megabytes; an error message keeps the start (which program, which step
// failed) and the end (the verifier's verdict) and marks the gap.
#define LOG_MAX (64 << 10)
#define LOG_HEAD (8 << 10)

struct log {
  char *buf;    // LOG_MAX + 1 bytes once something was logged, NUL-terminated
  size_t len;
  size_t keep;  // after the first overflow: bytes before this point are never dropped
};

// libbpf's print callback is process-wide but each load/open runs on one thread, so the thread
// decides where its messages go.
static __thread struct log *capture;

static void log_append(struct log *l, const char *s, size_t n) {
  static const char gap[] = "\n[... libbpf log truncated ...]\n";
  if (!l->buf && !(l->buf = malloc(LOG_MAX + 1))) return;
  if (l->len + n > LOG_MAX) {
    if (!l->keep) {  // first overflow: freeze the head and mark the gap once
      l->len = min_size(l->len, LOG_HEAD);
      memcpy(l->buf + l->len, gap, sizeof gap - 1);
      l->len += sizeof gap - 1;
      l->keep = l->len;
    }
    size_t room = LOG_MAX - l->keep;
    if (n >= room) {  // the new text alone fills the tail: keep its end
      s += n - room;
      n = room;
      l->len = l->keep;
    } else if (l->len + n > LOG_MAX) {  // drop the oldest tail bytes
      size_t drop = l->len + n - LOG_MAX;
      memmove(l->buf + l->keep, l->buf + l->keep + drop, l->len - l->keep - drop);
      l->len -= drop;
    }
  }
  memcpy(l->buf + l->len, s, n);
  l->len += n;
  l->buf[l->len] = 0;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap) {
  if (level == LIBBPF_DEBUG) return 0;
  struct log *l = capture;
  if (!l) return vfprintf(stderr, fmt, ap);  // libbpf's default behaviour
  char *s;
  int n = vasprintf(&s, fmt, ap);
  if (n < 0) return 0;
  log_append(l, s, (size_t)n);
  free(s);
  return n;
}

static void log_begin(struct log *l) {
  *l = (struct log){0};
  capture = l;
}

static void log_end(void) {
  capture = NULL;
}

static void log_free(struct log *l) {
  free(l->buf);
  l->buf = NULL;
}

// ---- errors: Error{message, errno, code, op, log?}, the shape src/bpf/errors.ts maps ----

static napi_value make_error(napi_env env, int err, const char *op, const char *detail,
                             const struct log *log) {
  if (err < 0) err = -err;
  if (err == 0) err = EINVAL;  // a failure without errno must still carry one
  const char *text = log && log->len ? log->buf : NULL;
  char *msg;
  if (asprintf(&msg, "%s: %s%s%s%s%s%s", op, strerror(err), detail ? " (" : "", detail ? detail : "",
               detail ? ")" : "", text ? "\n" : "", text ? text : "") < 0)
    msg = NULL;
  napi_value m, e, v;
  napi_create_string_utf8(env, msg ? msg : op, NAPI_AUTO_LENGTH, &m);
  free(msg);
  napi_create_error(env, NULL, m, &e);
  napi_create_int32(env, err, &v);
  napi_set_named_property(env, e, "errno", v);
  const char *name = strerrorname_np(err);
  if (name) {
    napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, e, "code", v);
  }
  napi_create_string_utf8(env, op, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, e, "op", v);
  if (text) {
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
    napi_set_named_property(env, e, "log", v);
  }
  return e;
}

static napi_value throw_bpf(napi_env env, int err, const char *op, const char *detail,
                            const struct log *log) {
  napi_throw(env, make_error(env, err, op, detail, log));
  return NULL;
}

// ---- small argument and result helpers ----

static bool is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) != napi_ok || t == napi_undefined || t == napi_null;
}

static bool get_buffer(napi_env env, napi_value v, void **data, size_t *len) {
  bool ok;
  NAPI_CALL_BOOL(env, napi_is_buffer(env, v, &ok));
  if (!ok) {
    napi_throw_type_error(env, NULL, "expected a Buffer");
    return false;
  }
  NAPI_CALL_BOOL(env, napi_get_buffer_info(env, v, data, len));
  return true;
}

// Reads an optional property; *v is left NULL when it is absent, undefined or null.
static bool get_opt(napi_env env, napi_value obj, const char *name, napi_value *v) {
  *v = NULL;
  if (is_nullish(env, obj)) return true;
  napi_value p;
  NAPI_CALL_BOOL(env, napi_get_named_property(env, obj, name, &p));
  if (!is_nullish(env, p)) *v = p;
  return true;
}

static bool set_u32(napi_env env, napi_value obj, const char *name, uint32_t value) {
  napi_value v;
  NAPI_CALL_BOOL(env, napi_create_uint32(env, value, &v));
  NAPI_CALL_BOOL(env, napi_set_named_property(env, obj, name, v));
  return true;
}

static bool set_i32(napi_env env, napi_value obj, const char *name, int32_t value) {
  napi_value v;
  NAPI_CALL_BOOL(env, napi_create_int32(env, value, &v));
  NAPI_CALL_BOOL(env, napi_set_named_property(env, obj, name, v));
  return true;
}

static bool set_str(napi_env env, napi_value obj, const char *name, const char *value) {
  napi_value v;
  NAPI_CALL_BOOL(env, napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v));
  NAPI_CALL_BOOL(env, napi_set_named_property(env, obj, name, v));
  return true;
}

static napi_value make_bool(napi_env env, bool b) {
  napi_value v;
  NAPI_CALL(env, napi_get_boolean(env, b, &v));
  return v;
}

static napi_value make_i32(napi_env env, int32_t n) {
  napi_value v;
  NAPI_CALL(env, napi_create_int32(env, n, &v));
  return v;
}

// Externals carry a type tag so that a ring buffer handle passed where an object is expected
// (or any foreign external) is an exception instead of memory corruption.
static const napi_type_tag OBJ_TAG = {0x7372763662706f62ULL, 0x6a6563745f746167ULL};
static const napi_type_tag RB_TAG = {0x7372763662707262ULL, 0x75665f5f5f746167ULL};

static void *get_tagged(napi_env env, napi_value v, const napi_type_tag *tag, const char *what) {
  bool ok = false;
  napi_valuetype t;
  NAPI_CALL(env, napi_typeof(env, v, &t));
  if (t == napi_external) NAPI_CALL(env, napi_check_object_type_tag(env, v, tag, &ok));
  if (!ok) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  void *p;
  NAPI_CALL(env, napi_get_value_external(env, v, &p));
  return p;
}

// ---- BPF objects ----

struct obj_handle {
  struct bpf_object *obj;  // NULL once closed
  bool loading;            // async load in flight: nobody else may touch obj
  bool loaded;             // a load was attempted: libbpf allows only one, even after failure
};

static void obj_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct obj_handle *h = data;
  if (h->obj) bpf_object__close(h->obj);  // a load in flight holds a reference: never here
  free(h);
}

// Configuration (globals, map sizes) and load itself only make sense before the load.
static bool check_unloaded(napi_env env, struct obj_handle *h, const char *op) {
  if (!h->loaded) return true;
  throw_bpf(env, EBUSY, op, "object already loaded", NULL);
  return false;
}

static struct obj_handle *get_obj(napi_env env, napi_value v, const char *op) {
  struct obj_handle *h = get_tagged(env, v, &OBJ_TAG, "expected a BPF object handle");
  if (!h) return NULL;
  const char *why = !h->obj ? "object is closed" : h->loading ? "object is being loaded" : NULL;
  if (!why) return h;
  throw_bpf(env, h->obj ? EBUSY : EBADF, op, why, NULL);
  return NULL;
}

// "map 'x' not in obj; it has: a b c": a missing name is usually a typo.
static void describe_missing(struct bpf_object *obj, bool maps, const char *name, char *buf,
                             size_t size) {
  int n = snprintf(buf, size, "%s '%s' not in %s; it has:", maps ? "map" : "program", name,
                   bpf_object__name(obj));
  if (maps) {
    struct bpf_map *m;
    bpf_object__for_each_map(m, obj) {
      if (n >= 0 && (size_t)n < size) n += snprintf(buf + n, size - n, " %s", bpf_map__name(m));
    }
  } else {
    struct bpf_program *p;
    bpf_object__for_each_program(p, obj) {
      if (n >= 0 && (size_t)n < size) n += snprintf(buf + n, size - n, " %s", bpf_program__name(p));
    }
  }
}

// bpfObjectOpen(path, {pinRoot?}) -> handle. Parses the ELF; nothing reaches the kernel yet.
static napi_value obj_open(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  char path[4096], pin_root[4096];
  if (!get_string(env, argv[0], path, sizeof path)) return NULL;
  napi_value v;
  if (!get_opt(env, argv[1], "pinRoot", &v)) return NULL;
  if (v && !get_string(env, v, pin_root, sizeof pin_root)) return NULL;
  LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = v ? pin_root : NULL);

  struct log log;
  log_begin(&log);
  struct bpf_object *obj = bpf_object__open_file(path, &opts);
  int err = errno;
  log_end();
  if (!obj) {
    throw_bpf(env, err, "bpf_object__open", path, &log);
    log_free(&log);
    return NULL;
  }
  log_free(&log);

  struct obj_handle *h = calloc(1, sizeof *h);
  if (!h) {
    bpf_object__close(obj);
    return throw_bpf(env, ENOMEM, "bpf_object__open", NULL, NULL);
  }
  h->obj = obj;
  napi_value ext;
  if (napi_create_external(env, h, obj_finalize, NULL, &ext) != napi_ok) {
    bpf_object__close(obj);
    free(h);
    return napi_throw_last(env);
  }
  NAPI_CALL(env, napi_type_tag_object(env, ext, &OBJ_TAG));
  return ext;
}

// Finds a global variable in the object's data sections through BTF: the section's internal map
// and the variable's offset and size inside that map's value.
static int find_global(struct bpf_object *obj, const char *name, struct bpf_map **map,
                       uint32_t *offset, uint32_t *size) {
  const struct btf *btf = bpf_object__btf(obj);
  if (!btf) return -ENODATA;  // compiled without -g: no BTF, no names
  uint32_t n = btf__type_cnt(btf);
  for (uint32_t id = 1; id < n; id++) {
    const struct btf_type *sec = btf__type_by_id(btf, id);
    if (!btf_is_datasec(sec)) continue;
    const struct btf_var_secinfo *vs = btf_var_secinfos(sec);
    for (uint16_t i = 0; i < btf_vlen(sec); i++) {
      const struct btf_type *var = btf__type_by_id(btf, vs[i].type);
      if (strcmp(btf__name_by_offset(btf, var->name_off), name) != 0) continue;
      // A leading dot makes libbpf match the section name (".rodata") instead of the map name.
      *map = bpf_object__find_map_by_name(obj, btf__name_by_offset(btf, sec->name_off));
      if (!*map || !bpf_map__is_internal(*map)) return -ENOENT;
      *offset = vs[i].offset;
      *size = vs[i].size;
      return 0;
    }
  }
  return -ENOENT;
}

// bpfObjectSetGlobal(obj, name, value) before load: the bytes of a `const volatile` (or other
// global) variable, so that the verifier sees them as constants and prunes dead branches.
static napi_value obj_set_global(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  const char *op = "bpfObjectSetGlobal";
  struct obj_handle *h = get_obj(env, argv[0], op);
  if (!h || !check_unloaded(env, h, op)) return NULL;
  char name[256], detail[512];
  if (!get_string(env, argv[1], name, sizeof name)) return NULL;
  void *data;
  size_t len;
  if (!get_buffer(env, argv[2], &data, &len)) return NULL;

  struct bpf_map *map;
  uint32_t offset, size;
  int err = find_global(h->obj, name, &map, &offset, &size);
  if (err) {
    snprintf(detail, sizeof detail, "no global '%s' in %s", name, bpf_object__name(h->obj));
    return throw_bpf(env, err, op, detail, NULL);
  }
  if (len != size) {
    snprintf(detail, sizeof detail, "'%s' is %u bytes, value is %zu", name, size, len);
    return throw_bpf(env, EINVAL, op, detail, NULL);
  }
  size_t total;
  const void *cur = bpf_map__initial_value(map, &total);
  if (!cur || offset + size > total) return throw_bpf(env, EINVAL, op, name, NULL);
  // set_initial_value replaces the whole section: patch a copy so other globals keep theirs.
  char *copy = malloc(total);
  if (!copy) return throw_bpf(env, ENOMEM, op, NULL, NULL);
  memcpy(copy, cur, total);
  memcpy(copy + offset, data, size);
  err = bpf_map__set_initial_value(map, copy, total);
  free(copy);
  if (err) return throw_bpf(env, err, op, name, NULL);
  return NULL;
}

struct load_work {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref handle_ref;  // keeps the external (and so the object) alive while loading
  struct obj_handle *h;
  struct log log;
  int err;
};

static void load_execute(napi_env env, void *data) {
  (void)env;
  struct load_work *w = data;
  log_begin(&w->log);
  w->err = bpf_object__load(w->h->obj);
  log_end();
}

static void load_complete(napi_env env, napi_status status, void *data) {
  struct load_work *w = data;
  w->h->loading = false;
  napi_value res;
  if (status != napi_ok && !w->err) w->err = ECANCELED;
  if (w->err) {
    char detail[256];
    snprintf(detail, sizeof detail, "%s", bpf_object__name(w->h->obj));
    napi_reject_deferred(env, w->deferred, make_error(env, w->err, "bpf_object__load", detail, &w->log));
  } else {
    napi_get_undefined(env, &res);
    napi_resolve_deferred(env, w->deferred, res);
  }
  napi_delete_reference(env, w->handle_ref);
  napi_delete_async_work(env, w->work);
  log_free(&w->log);
  free(w);
}

// bpfObjectLoad(obj) -> Promise<void>: creates maps, runs the verifier on every program.
static napi_value obj_load(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  struct obj_handle *h = get_obj(env, argv[0], "bpf_object__load");
  if (!h || !check_unloaded(env, h, "bpf_object__load")) return NULL;
  struct load_work *w = calloc(1, sizeof *w);
  if (!w) return throw_bpf(env, ENOMEM, "bpf_object__load", NULL, NULL);
  w->h = h;
  napi_value promise, name;
  napi_status st = napi_create_promise(env, &w->deferred, &promise);
  if (st == napi_ok) st = napi_create_string_utf8(env, "bpfObjectLoad", NAPI_AUTO_LENGTH, &name);
  if (st == napi_ok)
    st = napi_create_async_work(env, NULL, name, load_execute, load_complete, w, &w->work);
  if (st == napi_ok) st = napi_create_reference(env, argv[0], 1, &w->handle_ref);
  if (st == napi_ok) st = napi_queue_async_work(env, w->work);
  if (st != napi_ok) {
    if (w->handle_ref) napi_delete_reference(env, w->handle_ref);
    if (w->work) napi_delete_async_work(env, w->work);
    free(w);  // a created promise is simply never settled
    return napi_throw_last(env);
  }
  h->loading = h->loaded = true;
  return promise;
}

static struct bpf_map *find_map(napi_env env, struct obj_handle *h, napi_value v, const char *op) {
  char name[256], detail[1024];
  if (!get_string(env, v, name, sizeof name)) return NULL;
  struct bpf_map *map = bpf_object__find_map_by_name(h->obj, name);
  if (!map) {
    describe_missing(h->obj, true, name, detail, sizeof detail);
    throw_bpf(env, ENOENT, op, detail, NULL);
  }
  return map;
}

// The program named by argument `v` (its name copied to `name`), or NULL with ENOENT thrown
// listing the programs the object has.
static struct bpf_program *find_prog(napi_env env, struct obj_handle *h, napi_value v, const char *op, char *name,
                                     size_t size) {
  char detail[1024];
  if (!get_string(env, v, name, size)) return NULL;
  struct bpf_program *prog = bpf_object__find_program_by_name(h->obj, name);
  if (!prog) {
    describe_missing(h->obj, false, name, detail, sizeof detail);
    throw_bpf(env, ENOENT, op, detail, NULL);
  }
  return prog;
}

// bpfObjectProgFd(obj, name) -> fd (owned by the object: valid until bpfObjectClose).
static napi_value obj_prog_fd(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  const char *op = "bpfObjectProgFd";
  struct obj_handle *h = get_obj(env, argv[0], op);
  if (!h) return NULL;
  char name[256];
  struct bpf_program *prog = find_prog(env, h, argv[1], op, name, sizeof name);
  if (!prog) return NULL;
  int fd = bpf_program__fd(prog);
  if (fd < 0) return throw_bpf(env, fd, op, "object not loaded (or program not autoloaded)", NULL);
  return make_i32(env, fd);
}

// bpfObjectMapFd(obj, name) -> fd (owned by the object).
static napi_value obj_map_fd(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  const char *op = "bpfObjectMapFd";
  struct obj_handle *h = get_obj(env, argv[0], op);
  if (!h) return NULL;
  struct bpf_map *map = find_map(env, h, argv[1], op);
  if (!map) return NULL;
  int fd = bpf_map__fd(map);
  if (fd < 0) return throw_bpf(env, fd, op, "object not loaded", NULL);
  return make_i32(env, fd);
}

// bpfObjectMapInfo(obj, name) -> {fd, type, keySize, valueSize, maxEntries}; fd is -1 before load.
static napi_value obj_map_info(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  const char *op = "bpfObjectMapInfo";
  struct obj_handle *h = get_obj(env, argv[0], op);
  if (!h) return NULL;
  struct bpf_map *map = find_map(env, h, argv[1], op);
  if (!map) return NULL;
  napi_value res;
  NAPI_CALL(env, napi_create_object(env, &res));
  int fd = bpf_map__fd(map);
  if (!set_i32(env, res, "fd", fd < 0 ? -1 : fd) || !set_str(env, res, "name", bpf_map__name(map)) ||
      !set_u32(env, res, "type", bpf_map__type(map)) ||
      !set_u32(env, res, "keySize", bpf_map__key_size(map)) ||
      !set_u32(env, res, "valueSize", bpf_map__value_size(map)) ||
      !set_u32(env, res, "maxEntries", bpf_map__max_entries(map)))
    return NULL;
  return res;
}

// bpfObjectSetMapMaxEntries(obj, name, n) before load (e.g. a ring buffer or table sized by config).
static napi_value obj_set_max_entries(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  const char *op = "bpfObjectSetMapMaxEntries";
  struct obj_handle *h = get_obj(env, argv[0], op);
  if (!h || !check_unloaded(env, h, op)) return NULL;
  struct bpf_map *map = find_map(env, h, argv[1], op);
  if (!map) return NULL;
  uint32_t n;
  NAPI_CALL(env, napi_get_value_uint32(env, argv[2], &n));
  int err = bpf_map__set_max_entries(map, n);
  if (err) return throw_bpf(env, err, op, bpf_map__name(map), NULL);
  return NULL;
}

// bpfObjectClose(obj): closes the object's program and map fds. Links and pins keep their own
// references, so closing never detaches anything.
static napi_value obj_close(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  struct obj_handle *h = get_tagged(env, argv[0], &OBJ_TAG, "expected a BPF object handle");
  if (!h) return NULL;
  if (h->loading) return throw_bpf(env, EBUSY, "bpfObjectClose", "object is being loaded", NULL);
  if (h->obj) bpf_object__close(h->obj);
  h->obj = NULL;
  return NULL;
}

// ---- maps by fd ----

static bool is_percpu(uint32_t type) {
  return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE;
}

// Bytes the kernel copies for one value: per-CPU maps hold one 8-byte aligned slot per possible CPU.
static size_t value_bytes(const struct bpf_map_info *mi) {
  if (!is_percpu(mi->type)) return mi->value_size;
  return ((mi->value_size + 7) & ~7u) * (size_t)libbpf_num_possible_cpus();
}

static bool map_info(napi_env env, int fd, struct bpf_map_info *mi, const char *op) {
  uint32_t len = sizeof *mi;
  memset(mi, 0, sizeof *mi);
  int err = bpf_obj_get_info_by_fd(fd, mi, &len);
  if (err) {
    throw_bpf(env, err, op, "not a BPF map fd?", NULL);
    return false;
  }
  return true;
}

// The kernel reads and writes exactly key_size/value bytes through our pointers: a short Buffer
// would be an overflow, so sizes are checked against the map itself, not trusted from JS.
static bool check_size(napi_env env, const char *op, const struct bpf_map_info *mi, const char *what,
                       size_t got, size_t want) {
  if (got == want) return true;
  char detail[128];
  snprintf(detail, sizeof detail, "%s is %zu bytes, map '%s' needs %zu", what, got, mi->name, want);
  throw_bpf(env, EINVAL, op, detail, NULL);
  return false;
}

// bpfMapInfo(fd) -> {id, name, type, keySize, valueSize, maxEntries, flags}
static napi_value map_info_fd(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int32_t fd;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  struct bpf_map_info mi;
  if (!map_info(env, fd, &mi, "bpfMapInfo")) return NULL;
  napi_value res;
  NAPI_CALL(env, napi_create_object(env, &res));
  if (!set_u32(env, res, "id", mi.id) || !set_str(env, res, "name", mi.name) ||
      !set_u32(env, res, "type", mi.type) || !set_u32(env, res, "keySize", mi.key_size) ||
      !set_u32(env, res, "valueSize", mi.value_size) ||
      !set_u32(env, res, "maxEntries", mi.max_entries) || !set_u32(env, res, "flags", mi.map_flags))
    return NULL;
  return res;
}

// The map behind a fd argument and a key Buffer of exactly the map's key size. With `optional`, a
// null/undefined key is allowed and leaves *key NULL (get_next_key's "from the start").
static bool map_and_key(napi_env env, napi_value fdv, napi_value keyv, const char *op, bool optional, int32_t *fd,
                        struct bpf_map_info *mi, void **key) {
  NAPI_CALL_BOOL(env, napi_get_value_int32(env, fdv, fd));
  if (!map_info(env, *fd, mi, op)) return false;
  *key = NULL;
  if (optional && is_nullish(env, keyv)) return true;
  size_t klen;
  return get_buffer(env, keyv, key, &klen) && check_size(env, op, mi, "key", klen, mi->key_size);
}

// An optional size argument the caller states for a Buffer we allocate: it must be what the map says.
static bool check_stated_size(napi_env env, napi_value v, const char *op, const struct bpf_map_info *mi,
                              const char *what, size_t want) {
  if (is_nullish(env, v)) return true;
  uint32_t stated;
  NAPI_CALL_BOOL(env, napi_get_value_uint32(env, v, &stated));
  return check_size(env, op, mi, what, stated, want);
}

// `buf` as filled by a lookup-like call that returned `err`; null when it found nothing (ENOENT).
static napi_value filled_or_null(napi_env env, int err, napi_value buf, const char *op, const struct bpf_map_info *mi) {
  if (err == -ENOENT) {
    napi_value null;
    NAPI_CALL(env, napi_get_null(env, &null));
    return null;
  }
  if (err) return throw_bpf(env, err, op, mi->name, NULL);
  return buf;
}

// bpfMapUpdate(fd, key, value, flags): flags BPF_ANY 0, BPF_NOEXIST 1, BPF_EXIST 2, BPF_F_LOCK 4.
static napi_value map_update(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  const char *op = "bpf_map_update_elem";
  int32_t fd;
  struct bpf_map_info mi;
  void *key, *value;
  size_t vlen;
  uint32_t flags = 0;
  if (!map_and_key(env, argv[0], argv[1], op, false, &fd, &mi, &key)) return NULL;
  if (!is_nullish(env, argv[3])) NAPI_CALL(env, napi_get_value_uint32(env, argv[3], &flags));
  if (!get_buffer(env, argv[2], &value, &vlen) || !check_size(env, op, &mi, "value", vlen, value_bytes(&mi)))
    return NULL;
  int err = bpf_map_update_elem(fd, key, value, flags);
  if (err) return throw_bpf(env, err, op, mi.name, NULL);
  return NULL;
}

// bpfMapLookup(fd, key, valueSize?) -> Buffer | null (no such key). For per-CPU maps the value is
// roundup(valueSize, 8) * bpfPossibleCpus() bytes; valueSize, when given, must say so.
static napi_value map_lookup(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  const char *op = "bpf_map_lookup_elem";
  int32_t fd;
  struct bpf_map_info mi;
  void *key, *out;
  if (!map_and_key(env, argv[0], argv[1], op, false, &fd, &mi, &key)) return NULL;
  size_t want = value_bytes(&mi);
  if (!check_stated_size(env, argv[2], op, &mi, "valueSize", want)) return NULL;
  napi_value buf;
  NAPI_CALL(env, napi_create_buffer(env, want, &out, &buf));
  return filled_or_null(env, bpf_map_lookup_elem(fd, key, out), buf, op, &mi);
}

// bpfMapDelete(fd, key) -> true if it existed.
static napi_value map_delete(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  const char *op = "bpf_map_delete_elem";
  int32_t fd;
  struct bpf_map_info mi;
  void *key;
  if (!map_and_key(env, argv[0], argv[1], op, false, &fd, &mi, &key)) return NULL;
  int err = bpf_map_delete_elem(fd, key);
  if (err == -ENOENT) return make_bool(env, false);
  if (err) return throw_bpf(env, err, op, mi.name, NULL);
  return make_bool(env, true);
}

// bpfMapNextKey(fd, key | null, keySize?) -> Buffer | null (end). null starts from the first key.
static napi_value map_next_key(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  const char *op = "bpf_map_get_next_key";
  int32_t fd;
  struct bpf_map_info mi;
  void *key, *out;
  if (!map_and_key(env, argv[0], argv[1], op, true, &fd, &mi, &key)) return NULL;
  if (!check_stated_size(env, argv[2], op, &mi, "keySize", mi.key_size)) return NULL;
  napi_value buf;
  NAPI_CALL(env, napi_create_buffer(env, mi.key_size, &out, &buf));
  return filled_or_null(env, bpf_map_get_next_key(fd, key, out), buf, op, &mi);
}

// bpfPossibleCpus() -> number of per-CPU slots in a per-CPU map value.
static napi_value possible_cpus(napi_env env, napi_callback_info info) {
  (void)info;
  int n = libbpf_num_possible_cpus();
  if (n < 0) return throw_bpf(env, n, "libbpf_num_possible_cpus", NULL, NULL);
  return make_i32(env, n);
}

// ---- pinning, links, info ----

// bpfObjPin(fd, path): pins a map, program or link in bpffs (it then outlives this process).
static napi_value obj_pin(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int32_t fd;
  char path[4096];
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  if (!get_string(env, argv[1], path, sizeof path)) return NULL;
  int err = bpf_obj_pin(fd, path);
  if (err) return throw_bpf(env, err, "bpf_obj_pin", path, NULL);
  return NULL;
}

// bpfObjGet(path) -> fd of a pinned object (close it with closeFd).
static napi_value obj_get(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  char path[4096];
  if (!get_string(env, argv[0], path, sizeof path)) return NULL;
  int fd = bpf_obj_get(path);
  if (fd < 0) return throw_bpf(env, fd, "bpf_obj_get", path, NULL);
  return make_i32(env, fd);
}

struct xdp_link_args {
  int prog_fd;
  uint32_t flags;
  const char *ifname;  // resolved inside the netns when set, else ifindex is used
  int ifindex;
};

// Runs inside the target netns: BPF_LINK_CREATE resolves ifindex in the caller's namespace.
static int do_xdp_link(void *p) {
  struct xdp_link_args *a = p;
  if (a->ifname) {
    a->ifindex = (int)if_nametoindex(a->ifname);
    if (!a->ifindex) return -errno;
  }
  LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = a->flags);
  return bpf_link_create(a->prog_fd, a->ifindex, BPF_XDP, &opts);
}

// bpfXdpLinkCreate(progFd, ifindex | ifname, flags, netns?) -> link fd. flags: 0 (native if the
// driver can, else generic), XDP_FLAGS_SKB_MODE 2, XDP_FLAGS_DRV_MODE 4. The link detaches when
// its last fd closes unless it is pinned.
static napi_value xdp_link_create(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  const char *op = "bpf_link_create(BPF_XDP)";
  struct xdp_link_args a = {0};
  char ifname[IF_NAMESIZE + 1];
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &a.prog_fd));
  napi_valuetype t;
  NAPI_CALL(env, napi_typeof(env, argv[1], &t));
  if (t == napi_string) {
    if (!get_string(env, argv[1], ifname, sizeof ifname)) return NULL;
    a.ifname = ifname;
  } else {
    NAPI_CALL(env, napi_get_value_int32(env, argv[1], &a.ifindex));
  }
  if (!is_nullish(env, argv[2])) NAPI_CALL(env, napi_get_value_uint32(env, argv[2], &a.flags));
  int ns_fd;
  bool opened;
  if (!netns_arg(env, argv[3], &ns_fd, &opened)) return NULL;
  int fd = in_netns(ns_fd, do_xdp_link, &a);
  if (opened) close(ns_fd);
  if (fd < 0) {
    char detail[64];
    if (a.ifname)
      snprintf(detail, sizeof detail, "dev %s", a.ifname);
    else
      snprintf(detail, sizeof detail, "ifindex %d", a.ifindex);
    return throw_bpf(env, fd, op, detail, NULL);
  }
  return make_i32(env, fd);
}

// bpfLinkUpdate(linkFd, newProgFd, expectedOldProgFd?): atomic program replacement; with the
// expected old program it is a compare-and-swap (EPERM if another program is attached).
static napi_value link_update(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  int32_t link_fd, prog_fd, old_fd = -1;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &link_fd));
  NAPI_CALL(env, napi_get_value_int32(env, argv[1], &prog_fd));
  if (!is_nullish(env, argv[2])) NAPI_CALL(env, napi_get_value_int32(env, argv[2], &old_fd));
  LIBBPF_OPTS(bpf_link_update_opts, opts, .flags = old_fd >= 0 ? BPF_F_REPLACE : 0,
              .old_prog_fd = old_fd >= 0 ? (uint32_t)old_fd : 0);
  int err = bpf_link_update(link_fd, prog_fd, &opts);
  if (err) return throw_bpf(env, err, "bpf_link_update", NULL, NULL);
  return NULL;
}

// bpfLinkDetach(linkFd): detaches now, even if pinned; the link object lingers (defunct) until
// its fds and pins are gone.
static napi_value link_detach(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int32_t fd;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  int err = bpf_link_detach(fd);
  if (err) return throw_bpf(env, err, "bpf_link_detach", NULL, NULL);
  return NULL;
}

// bpfLinkInfo(fd) -> {id, progId, type, ifindex?}. ifindex (XDP links) is 0 once detached.
static napi_value link_info(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int32_t fd;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  struct bpf_link_info li = {0};
  uint32_t len = sizeof li;
  int err = bpf_obj_get_info_by_fd(fd, &li, &len);
  if (err) return throw_bpf(env, err, "bpfLinkInfo", "not a BPF link fd?", NULL);
  napi_value res;
  NAPI_CALL(env, napi_create_object(env, &res));
  if (!set_u32(env, res, "id", li.id) || !set_u32(env, res, "progId", li.prog_id) ||
      !set_u32(env, res, "type", li.type))
    return NULL;
  if (li.type == BPF_LINK_TYPE_XDP && !set_u32(env, res, "ifindex", li.xdp.ifindex)) return NULL;
  return res;
}

// bpfProgInfo(fd) -> {id, name, type, tag (hex)}
static napi_value prog_info(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int32_t fd;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  struct bpf_prog_info pi = {0};
  uint32_t len = sizeof pi;
  int err = bpf_obj_get_info_by_fd(fd, &pi, &len);
  if (err) return throw_bpf(env, err, "bpfProgInfo", "not a BPF program fd?", NULL);
  char tag[2 * BPF_TAG_SIZE + 1];
  for (int i = 0; i < BPF_TAG_SIZE; i++) snprintf(tag + 2 * i, 3, "%02x", pi.tag[i]);
  napi_value res;
  NAPI_CALL(env, napi_create_object(env, &res));
  if (!set_u32(env, res, "id", pi.id) || !set_str(env, res, "name", pi.name) ||
      !set_u32(env, res, "type", pi.type) || !set_str(env, res, "tag", tag))
    return NULL;
  return res;
}

// ---- BPF_PROG_TEST_RUN, on the thread pool: repeat can make it run for seconds ----

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
static napi_value prog_test_run(napi_env env, napi_callback_info info) {
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

// ---- ring buffers: libbpf's epoll fd watched by a uv_poll_t on Node's loop ----

// Samples handed to JS per callback at most; the rest waits for the next loop turn so a busy
// producer cannot starve the event loop (the epoll fd stays readable while data is left).
#define RB_BATCH 4096

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
static napi_value rb_open(napi_env env, napi_callback_info info) {
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
static napi_value rb_close(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  struct rb_handle *h = get_tagged(env, argv[0], &RB_TAG, "expected a ring buffer handle");
  if (!h) return NULL;
  rb_stop(h);
  return NULL;
}

// bpfRingbufRef(handle, ref): whether an open ring buffer keeps the process alive (default yes).
static napi_value rb_ref(napi_env env, napi_callback_info info) {
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

// ---- feature probes (each loads a tiny program or map: a few ms in all) ----

static napi_value features(napi_env env, napi_callback_info info) {
  (void)info;
  struct log log;  // probes log expected failures: keep them off stderr
  log_begin(&log);
  bool xdp = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_XDP, NULL) == 1;
  bool tracepoint = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACEPOINT, NULL) == 1;
  bool raw_tp = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_RAW_TRACEPOINT, NULL) == 1;
  bool ringbuf = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) == 1;
  bool fib = libbpf_probe_bpf_helper(BPF_PROG_TYPE_XDP, BPF_FUNC_fib_lookup, NULL) == 1;
  log_end();
  log_free(&log);
  napi_value res;
  NAPI_CALL(env, napi_create_object(env, &res));
  NAPI_CALL(env, napi_set_named_property(env, res, "progXdp", make_bool(env, xdp)));
  NAPI_CALL(env, napi_set_named_property(env, res, "progTracepoint", make_bool(env, tracepoint)));
  NAPI_CALL(env, napi_set_named_property(env, res, "progRawTracepoint", make_bool(env, raw_tp)));
  NAPI_CALL(env, napi_set_named_property(env, res, "mapRingbuf", make_bool(env, ringbuf)));
  NAPI_CALL(env, napi_set_named_property(env, res, "helperFibLookup", make_bool(env, fib)));
  return res;
}

// ---- tracing probes (src/trace/): programs configured per target, mass attach and detach ----
//
// A trampoline program (fentry, fexit, tp_btf) is verified against one target, fixed at load, so
// tracing thousands of functions means loading thousands of programs: the tracer loads one
// template per argument slot through libbpf (CO-RE relocated), takes its final instructions
// (bpfProgramInsns) and loads clones of them here, one per target, each with the target's index
// written over a marker ld_imm64. kprobes share one program (the index is the bpf cookie). Every
// attachment is a bpf_link fd kept in a probe set; the kernel detaches a link when its last fd
// closes, so nothing outlives the process, whatever way it ends. Loading and attaching are slow
// (verifier, ftrace text patching): batches run as async work on libuv's thread pool, and callers
// may run several batches at once.
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>

#define KSYM_NAME_LEN_MAX 512

// bpfProgramSetup(obj, name, {autoload?, attachTarget?}) before load: whether the program is
// loaded at all, and the function or tracepoint a trampoline program is verified against.
static napi_value prog_setup(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  const char *op = "bpfProgramSetup";
  struct obj_handle *h = get_obj(env, argv[0], op);
  if (!h || !check_unloaded(env, h, op)) return NULL;
  char name[256], target[256], detail[1024];
  struct bpf_program *prog = find_prog(env, h, argv[1], op, name, sizeof name);
  if (!prog) return NULL;
  napi_value v;
  if (!get_opt(env, argv[2], "autoload", &v)) return NULL;
  if (v) {
    bool autoload;
    NAPI_CALL(env, napi_get_value_bool(env, v, &autoload));
    int err = bpf_program__set_autoload(prog, autoload);
    if (err) return throw_bpf(env, err, "bpf_program__set_autoload", name, NULL);
  }
  if (!get_opt(env, argv[2], "attachTarget", &v)) return NULL;
  if (v) {
    if (!get_string(env, v, target, sizeof target)) return NULL;
    int err = bpf_program__set_attach_target(prog, 0, target);
    if (err) {
      snprintf(detail, sizeof detail, "%s -> %s", name, target);
      return throw_bpf(env, err, "bpf_program__set_attach_target", detail, NULL);
    }
  }
  return NULL;
}

// bpfProgramInsns(obj, name) -> Buffer: the loaded program's final instructions (CO-RE
// relocated, map fds embedded: valid while the object's maps are open).
static napi_value prog_insns(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  const char *op = "bpfProgramInsns";
  struct obj_handle *h = get_obj(env, argv[0], op);
  if (!h) return NULL;
  char name[256];
  struct bpf_program *prog = find_prog(env, h, argv[1], op, name, sizeof name);
  if (!prog) return NULL;
  if (bpf_program__fd(prog) < 0) return throw_bpf(env, EINVAL, op, "program not loaded", NULL);
  napi_value buf;
  NAPI_CALL(env, napi_create_buffer_copy(env, bpf_program__insn_cnt(prog) * sizeof(struct bpf_insn),
                                         bpf_program__insns(prog), NULL, &buf));
  return buf;
}

struct probe_set {
  int *fds;  // link fds; the set owns them
  size_t n, cap;
  uint32_t busy;  // attach works in flight: their links join the set when they complete
};

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

static bool ps_append(struct probe_set *s, const int *fds, size_t n) {
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

// bpfProbeSetNew() -> handle
static napi_value ps_new(napi_env env, napi_callback_info info) {
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

enum attach_kind { ATTACH_TRACING, ATTACH_KPROBE, ATTACH_KPROBE_MULTI };

struct attach_work {
  napi_async_work work;
  napi_deferred deferred;
  napi_ref set_ref;
  struct probe_set *set;
  enum attach_kind kind;
  size_t n;       // targets
  int *errs;      // per target (kprobe-multi: one for all): 0 or a positive errno
  int *fds;       // links made
  size_t nfds;
  char *log;      // the verifier's log for the first clone the kernel refused
  // tracing clones
  struct bpf_insn *insns;
  size_t insn_cnt;
  uint32_t marker;  // index of the ld_imm64 that carries the target index
  enum bpf_attach_type attach_type;
  char prog_name[BPF_OBJ_NAME_LEN];
  uint32_t *btf_ids;
  int32_t *btf_obj_fds;
  uint32_t *ids;
  // kprobes
  int prog_fd;  // our dup
  bool retprobe;
  char **syms;
  __u64 *cookies;
};

static void attach_free(struct attach_work *w) {
  if (w->prog_fd >= 0) close(w->prog_fd);
  for (size_t i = 0; w->fds && i < w->nfds; i++) close(w->fds[i]);  // links not handed over
  if (w->syms)
    for (size_t i = 0; i < w->n; i++) free(w->syms[i]);
  free(w->syms);
  free(w->cookies);
  free(w->errs);
  free(w->fds);
  free(w->log);
  free(w->insns);
  free(w->btf_ids);
  free(w->btf_obj_fds);
  free(w->ids);
  free(w);
}

#define CLONE_LOG_SIZE (256 << 10)

static int clone_load(struct attach_work *w, size_t i, char *log, size_t log_size) {
  w->insns[w->marker].imm = (int32_t)w->ids[i];
  w->insns[w->marker + 1].imm = 0;
  LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = w->attach_type,
              .attach_btf_id = w->btf_ids[i],
              .attach_btf_obj_fd = w->btf_obj_fds[i] > 0 ? (uint32_t)w->btf_obj_fds[i] : 0,
              .log_buf = log, .log_size = log ? (uint32_t)log_size : 0, .log_level = log ? 1 : 0);
  int fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, w->prog_name, "GPL", w->insns, w->insn_cnt, &o);
  return fd < 0 ? -errno : fd;
}

// Kprobes through the kprobe PMU only: the legacy tracefs interface would leave kprobe_events
// behind if the process died. type < 0: no PMU (CONFIG_KPROBES unset or no kprobe events).
static int kprobe_pmu(int *retprobe_bit) {
  static int type = -2, bit = 0;
  if (type == -2) {
    FILE *f = fopen("/sys/bus/event_source/devices/kprobe/type", "r");
    int t = -1;
    if (f) {
      if (fscanf(f, "%d", &t) != 1) t = -1;
      fclose(f);
    }
    f = fopen("/sys/bus/event_source/devices/kprobe/format/retprobe", "r");
    if (f) {
      if (fscanf(f, "config:%d", &bit) != 1) bit = 0;
      fclose(f);
    }
    type = t;
  }
  *retprobe_bit = bit;
  return type;
}

static int kprobe_attach(struct attach_work *w, size_t i) {
  int bit, type = kprobe_pmu(&bit);
  if (type < 0) return -EOPNOTSUPP;
  struct perf_event_attr attr = {0};
  attr.size = sizeof attr;
  attr.type = (uint32_t)type;
  attr.config = w->retprobe ? 1ULL << bit : 0;
  attr.config1 = (uint64_t)(uintptr_t)w->syms[i];  // the kernel copies the name
  attr.config2 = 0;                                 // offset
  int pfd = (int)syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC);
  if (pfd < 0) return -errno;
  LIBBPF_OPTS(bpf_link_create_opts, o, .perf_event.bpf_cookie = w->cookies[i]);
  int lfd = bpf_link_create(w->prog_fd, pfd, BPF_PERF_EVENT, &o);
  int err = lfd < 0 ? -errno : 0;
  if (!err && ioctl(pfd, PERF_EVENT_IOC_ENABLE, 0) < 0) {
    err = -errno;
    close(lfd);
  }
  close(pfd);  // the link holds the perf event
  return err ? err : lfd;
}

static void attach_execute(napi_env env, void *data) {
  (void)env;
  struct attach_work *w = data;
  if (w->kind == ATTACH_KPROBE_MULTI) {
    LIBBPF_OPTS(bpf_link_create_opts, o, .kprobe_multi.flags = w->retprobe ? BPF_F_KPROBE_MULTI_RETURN : 0,
                .kprobe_multi.cnt = (uint32_t)w->n, .kprobe_multi.syms = (const char **)w->syms,
                .kprobe_multi.cookies = w->cookies);
    int fd = bpf_link_create(w->prog_fd, 0, BPF_TRACE_KPROBE_MULTI, &o);
    if (fd < 0)
      w->errs[0] = errno ? errno : EINVAL;
    else
      w->fds[w->nfds++] = fd;
    return;
  }
  for (size_t i = 0; i < w->n; i++) {
    int fd;
    if (w->kind == ATTACH_KPROBE) {
      fd = kprobe_attach(w, i);
    } else {
      int prog = clone_load(w, i, NULL, 0);
      if (prog < 0 && !w->log) {  // the first refusal: load again for the verifier's reason
        char *log = calloc(1, CLONE_LOG_SIZE);
        if (log && clone_load(w, i, log, CLONE_LOG_SIZE) < 0)
          w->log = log;
        else
          free(log);
      }
      if (prog < 0) {
        fd = prog;
      } else {
        fd = bpf_raw_tracepoint_open(NULL, prog);  // fentry/fexit/tp_btf: the target is in the program
        if (fd < 0) fd = -errno;
        close(prog);  // the link holds the program
      }
    }
    if (fd < 0)
      w->errs[i] = -fd;
    else
      w->fds[w->nfds++] = fd;
  }
}

static void attach_complete(napi_env env, napi_status status, void *data) {
  struct attach_work *w = data;
  w->set->busy--;
  napi_value res, errs, ab;
  void *p;
  bool ok = status == napi_ok && ps_append(w->set, w->fds, w->nfds);
  if (ok) w->nfds = 0;  // handed over to the set
  size_t ne = w->kind == ATTACH_KPROBE_MULTI ? 1 : w->n;
  if (ok && napi_create_object(env, &res) == napi_ok &&
      napi_create_arraybuffer(env, ne * sizeof(int32_t), &p, &ab) == napi_ok &&
      napi_create_typedarray(env, napi_int32_array, ne, ab, 0, &errs) == napi_ok &&
      napi_set_named_property(env, res, "errors", errs) == napi_ok) {
    memcpy(p, w->errs, ne * sizeof(int32_t));
    if (w->log) set_str(env, res, "log", w->log);
    napi_resolve_deferred(env, w->deferred, res);
  } else {
    // Links not handed over are closed by attach_free: nothing stays attached unaccounted.
    napi_reject_deferred(env, w->deferred,
                         make_error(env, status == napi_ok ? ENOMEM : ECANCELED, "bpfProbeSetAttach", NULL, NULL));
  }
  napi_delete_reference(env, w->set_ref);
  napi_delete_async_work(env, w->work);
  attach_free(w);
}

// Copies a Uint32Array/Int32Array of exactly n elements.
static void *get_u32s(napi_env env, napi_value obj, const char *name, size_t n) {
  napi_value v;
  if (!get_opt(env, obj, name, &v)) return NULL;
  napi_typedarray_type t;
  size_t len;
  void *data;
  bool is_ta = false;
  if (v) NAPI_CALL(env, napi_is_typedarray(env, v, &is_ta));
  if (!is_ta) {
    char msg[128];
    snprintf(msg, sizeof msg, "bpfProbeSetAttach: %s must be a Uint32Array or Int32Array", name);
    napi_throw_type_error(env, NULL, msg);
    return NULL;
  }
  NAPI_CALL(env, napi_get_typedarray_info(env, v, &t, &len, &data, NULL, NULL));
  if ((t != napi_uint32_array && t != napi_int32_array) || len != n) {
    char msg[128];
    snprintf(msg, sizeof msg, "bpfProbeSetAttach: %s must hold %zu 32-bit elements", name, n);
    napi_throw_type_error(env, NULL, msg);
    return NULL;
  }
  void *copy = malloc(n ? n * 4 : 4);
  if (!copy) {
    throw_bpf(env, ENOMEM, "bpfProbeSetAttach", NULL, NULL);
    return NULL;
  }
  memcpy(copy, data, n * 4);
  return copy;
}

static bool get_u32_prop(napi_env env, napi_value obj, const char *name, uint32_t *out) {
  napi_value v;
  if (!get_opt(env, obj, name, &v)) return false;
  if (!v) {
    char msg[128];
    snprintf(msg, sizeof msg, "bpfProbeSetAttach: %s is required", name);
    napi_throw_type_error(env, NULL, msg);
    return false;
  }
  NAPI_CALL_BOOL(env, napi_get_value_uint32(env, v, out));
  return true;
}

// Reads the request into w; false with an exception pending.
static bool attach_args(napi_env env, napi_value req, struct attach_work *w) {
  char kind[32], type[16];
  napi_value v;
  if (!get_opt(env, req, "kind", &v)) return false;
  if (!v || !get_string(env, v, kind, sizeof kind)) {
    if (!v) napi_throw_type_error(env, NULL, "bpfProbeSetAttach: kind is required");
    return false;
  }
  if (!strcmp(kind, "tracing")) {
    w->kind = ATTACH_TRACING;
    void *insns;
    size_t len;
    if (!get_opt(env, req, "insns", &v)) return false;
    if (!v) {
      napi_throw_type_error(env, NULL, "bpfProbeSetAttach: insns (Buffer) is required");
      return false;
    }
    if (!get_buffer(env, v, &insns, &len)) return false;
    w->insn_cnt = len / sizeof(struct bpf_insn);
    if (!w->insn_cnt || len % sizeof(struct bpf_insn)) {
      napi_throw_range_error(env, NULL, "bpfProbeSetAttach: insns is not a whole number of instructions");
      return false;
    }
    if (!(w->insns = malloc(len))) return false;
    memcpy(w->insns, insns, len);
    if (!get_u32_prop(env, req, "marker", &w->marker)) return false;
    if (w->marker + 1 >= w->insn_cnt || w->insns[w->marker].code != (BPF_LD | BPF_IMM | BPF_DW)) {
      napi_throw_range_error(env, NULL, "bpfProbeSetAttach: marker is not an ld_imm64 instruction");
      return false;
    }
    if (!get_opt(env, req, "attachType", &v)) return false;
    if (!v || !get_string(env, v, type, sizeof type)) {
      if (!v) napi_throw_type_error(env, NULL, "bpfProbeSetAttach: attachType is required");
      return false;
    }
    if (!strcmp(type, "fentry"))
      w->attach_type = BPF_TRACE_FENTRY;
    else if (!strcmp(type, "fexit"))
      w->attach_type = BPF_TRACE_FEXIT;
    else if (!strcmp(type, "tp_btf"))
      w->attach_type = BPF_TRACE_RAW_TP;
    else {
      napi_throw_range_error(env, NULL, "bpfProbeSetAttach: attachType must be fentry, fexit or tp_btf");
      return false;
    }
    if (!get_opt(env, req, "name", &v)) return false;
    if (v && !get_string(env, v, w->prog_name, sizeof w->prog_name)) return false;
    uint32_t n;
    if (!get_opt(env, req, "btfIds", &v)) return false;
    if (!v) {
      napi_throw_type_error(env, NULL, "bpfProbeSetAttach: btfIds is required");
      return false;
    }
    NAPI_CALL_BOOL(env, napi_get_typedarray_info(env, v, NULL, &w->n, NULL, NULL, NULL));
    n = (uint32_t)w->n;
    return (w->btf_ids = get_u32s(env, req, "btfIds", n)) && (w->btf_obj_fds = get_u32s(env, req, "btfObjFds", n)) &&
           (w->ids = get_u32s(env, req, "ids", n));
  }
  if (strcmp(kind, "kprobe") && strcmp(kind, "kprobe_multi")) {
    napi_throw_range_error(env, NULL, "bpfProbeSetAttach: kind must be tracing, kprobe or kprobe_multi");
    return false;
  }
  w->kind = strcmp(kind, "kprobe") ? ATTACH_KPROBE_MULTI : ATTACH_KPROBE;
  int32_t fd;
  uint32_t n;
  if (!get_opt(env, req, "progFd", &v)) return false;
  if (!v) {
    napi_throw_type_error(env, NULL, "bpfProbeSetAttach: progFd is required");
    return false;
  }
  NAPI_CALL_BOOL(env, napi_get_value_int32(env, v, &fd));
  if ((w->prog_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0) {
    throw_bpf(env, errno, "bpfProbeSetAttach", "program fd", NULL);
    return false;
  }
  if (!get_opt(env, req, "retprobe", &v)) return false;
  if (v) NAPI_CALL_BOOL(env, napi_get_value_bool(env, v, &w->retprobe));
  if (!get_opt(env, req, "syms", &v)) return false;
  bool is_array = false;
  if (v) NAPI_CALL_BOOL(env, napi_is_array(env, v, &is_array));
  if (!is_array) {
    napi_throw_type_error(env, NULL, "bpfProbeSetAttach: syms must be an array of names");
    return false;
  }
  NAPI_CALL_BOOL(env, napi_get_array_length(env, v, &n));
  w->n = n;
  if (!(w->syms = calloc(n ? n : 1, sizeof *w->syms))) return false;
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    char sym[KSYM_NAME_LEN_MAX];
    NAPI_CALL_BOOL(env, napi_get_element(env, v, i, &e));
    if (!get_string(env, e, sym, sizeof sym)) return false;
    if (!(w->syms[i] = strdup(sym))) return false;
  }
  uint32_t *cookies = get_u32s(env, req, "cookies", n);
  if (!cookies) return false;
  w->cookies = calloc(n ? n : 1, sizeof *w->cookies);
  if (w->cookies)
    for (uint32_t i = 0; i < n; i++) w->cookies[i] = cookies[i];
  free(cookies);
  return w->cookies != NULL;
}

// bpfProbeSetAttach(set, req) -> Promise<{errors: Int32Array, log?}>, req one of
//   {kind: 'tracing', insns: Buffer, marker, attachType: 'fentry'|'fexit'|'tp_btf', name?,
//    btfIds, btfObjFds (0: vmlinux, else a module's BTF fd, open until this settles), ids}
//   {kind: 'kprobe' | 'kprobe_multi', progFd, retprobe?, syms: string[], cookies}
// (id arrays: Uint32Array/Int32Array, one element per target). errors[i] is 0 or the errno of
// target i (kprobe_multi: one entry for the whole set); `log` is the verifier's explanation of
// the first clone it refused. Links made join the set.
static napi_value ps_attach(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  struct probe_set *s = get_tagged(env, argv[0], &PS_TAG, "expected a probe set handle");
  if (!s) return NULL;
  struct attach_work *w = calloc(1, sizeof *w);
  if (!w) return throw_bpf(env, ENOMEM, "bpfProbeSetAttach", NULL, NULL);
  w->prog_fd = -1;
  w->set = s;
  snprintf(w->prog_name, sizeof w->prog_name, "ipft");
  bool pending;
  if (!attach_args(env, argv[1], w) || !(w->errs = calloc(w->n ? w->n : 1, sizeof *w->errs)) ||
      !(w->fds = calloc(w->n ? w->n : 1, sizeof *w->fds))) {
    attach_free(w);
    napi_is_exception_pending(env, &pending);
    return pending ? NULL : throw_bpf(env, ENOMEM, "bpfProbeSetAttach", NULL, NULL);
  }
  napi_value promise, name;
  napi_status st = napi_create_promise(env, &w->deferred, &promise);
  if (st == napi_ok) st = napi_create_string_utf8(env, "bpfProbeSetAttach", NAPI_AUTO_LENGTH, &name);
  if (st == napi_ok)
    st = napi_create_async_work(env, NULL, name, attach_execute, attach_complete, w, &w->work);
  if (st == napi_ok) st = napi_create_reference(env, argv[0], 1, &w->set_ref);
  if (st == napi_ok) st = napi_queue_async_work(env, w->work);
  if (st != napi_ok) {
    if (w->set_ref) napi_delete_reference(env, w->set_ref);
    if (w->work) napi_delete_async_work(env, w->work);
    attach_free(w);
    return napi_throw_last(env);
  }
  s->busy++;
  return promise;
}

// bpfProbeSetSize(set) -> number of links held.
static napi_value ps_size(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  struct probe_set *s = get_tagged(env, argv[0], &PS_TAG, "expected a probe set handle");
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
static napi_value ps_detach(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  const char *op = "bpfProbeSetDetach";
  struct probe_set *s = get_tagged(env, argv[0], &PS_TAG, "expected a probe set handle");
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
static napi_value ps_close_sync(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  struct probe_set *s = get_tagged(env, argv[0], &PS_TAG, "expected a probe set handle");
  if (!s) return NULL;
  size_t n = s->n;
  ps_close_all(s);
  napi_value v;
  NAPI_CALL(env, napi_create_double(env, (double)n, &v));
  return v;
}

// bpfBtfObjFd(name) -> fd of the kernel BTF object named `name` ("vmlinux" or a module): the
// attach_btf_obj_fd of trampoline programs for module functions. Close it with closeFd.
static napi_value btf_obj_fd(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  const char *op = "bpfBtfObjFd";
  char want[64];
  if (!get_string(env, argv[0], want, sizeof want)) return NULL;
  uint32_t id = 0;
  while (bpf_btf_get_next_id(id, &id) == 0) {
    int fd = bpf_btf_get_fd_by_id(id);
    if (fd < 0) continue;  // gone meanwhile
    char name[64] = {0};
    struct bpf_btf_info bi = {0};
    uint32_t len = sizeof bi;
    bi.name = (uint64_t)(uintptr_t)name;
    bi.name_len = sizeof name;
    if (bpf_obj_get_info_by_fd(fd, &bi, &len) == 0 && bi.kernel_btf && !strcmp(name, want)) return make_i32(env, fd);
    close(fd);
  }
  return throw_bpf(env, ENOENT, op, want, NULL);
}

// bpfKprobePmu() -> {type, retprobeBit}; type -1 when the kernel has no kprobe PMU.
static napi_value kprobe_pmu_info(napi_env env, napi_callback_info info) {
  (void)info;
  int bit, type = kprobe_pmu(&bit);
  napi_value res;
  NAPI_CALL(env, napi_create_object(env, &res));
  if (!set_i32(env, res, "type", type) || !set_i32(env, res, "retprobeBit", bit)) return NULL;
  return res;
}

napi_value bpf_init(napi_env env, napi_value exports) {
  libbpf_set_print(libbpf_print);
  napi_property_descriptor props[] = {
      {"bpfObjectOpen", NULL, obj_open, NULL, NULL, NULL, napi_default, NULL},
      {"bpfObjectSetGlobal", NULL, obj_set_global, NULL, NULL, NULL, napi_default, NULL},
      {"bpfObjectSetMapMaxEntries", NULL, obj_set_max_entries, NULL, NULL, NULL, napi_default, NULL},
      {"bpfObjectLoad", NULL, obj_load, NULL, NULL, NULL, napi_default, NULL},
      {"bpfObjectProgFd", NULL, obj_prog_fd, NULL, NULL, NULL, napi_default, NULL},
      {"bpfObjectMapFd", NULL, obj_map_fd, NULL, NULL, NULL, napi_default, NULL},
      {"bpfObjectMapInfo", NULL, obj_map_info, NULL, NULL, NULL, napi_default, NULL},
      {"bpfObjectClose", NULL, obj_close, NULL, NULL, NULL, napi_default, NULL},
      {"bpfMapInfo", NULL, map_info_fd, NULL, NULL, NULL, napi_default, NULL},
      {"bpfMapUpdate", NULL, map_update, NULL, NULL, NULL, napi_default, NULL},
      {"bpfMapLookup", NULL, map_lookup, NULL, NULL, NULL, napi_default, NULL},
      {"bpfMapDelete", NULL, map_delete, NULL, NULL, NULL, napi_default, NULL},
      {"bpfMapNextKey", NULL, map_next_key, NULL, NULL, NULL, napi_default, NULL},
      {"bpfPossibleCpus", NULL, possible_cpus, NULL, NULL, NULL, napi_default, NULL},
      {"bpfObjPin", NULL, obj_pin, NULL, NULL, NULL, napi_default, NULL},
      {"bpfObjGet", NULL, obj_get, NULL, NULL, NULL, napi_default, NULL},
      {"bpfXdpLinkCreate", NULL, xdp_link_create, NULL, NULL, NULL, napi_default, NULL},
      {"bpfLinkUpdate", NULL, link_update, NULL, NULL, NULL, napi_default, NULL},
      {"bpfLinkDetach", NULL, link_detach, NULL, NULL, NULL, napi_default, NULL},
      {"bpfLinkInfo", NULL, link_info, NULL, NULL, NULL, napi_default, NULL},
      {"bpfProgInfo", NULL, prog_info, NULL, NULL, NULL, napi_default, NULL},
      {"bpfProgTestRun", NULL, prog_test_run, NULL, NULL, NULL, napi_default, NULL},
      {"bpfRingbufOpen", NULL, rb_open, NULL, NULL, NULL, napi_default, NULL},
      {"bpfRingbufClose", NULL, rb_close, NULL, NULL, NULL, napi_default, NULL},
      {"bpfRingbufRef", NULL, rb_ref, NULL, NULL, NULL, napi_default, NULL},
      {"bpfFeatures", NULL, features, NULL, NULL, NULL, napi_default, NULL},
      // tracing probes
      {"bpfProgramSetup", NULL, prog_setup, NULL, NULL, NULL, napi_default, NULL},
      {"bpfProgramInsns", NULL, prog_insns, NULL, NULL, NULL, napi_default, NULL},
      {"bpfProbeSetNew", NULL, ps_new, NULL, NULL, NULL, napi_default, NULL},
      {"bpfProbeSetAttach", NULL, ps_attach, NULL, NULL, NULL, napi_default, NULL},
      {"bpfProbeSetSize", NULL, ps_size, NULL, NULL, NULL, napi_default, NULL},
      {"bpfProbeSetDetach", NULL, ps_detach, NULL, NULL, NULL, napi_default, NULL},
      {"bpfProbeSetCloseSync", NULL, ps_close_sync, NULL, NULL, NULL, napi_default, NULL},
      {"bpfBtfObjFd", NULL, btf_obj_fd, NULL, NULL, NULL, napi_default, NULL},
      {"bpfKprobePmu", NULL, kprobe_pmu_info, NULL, NULL, NULL, napi_default, NULL},
  };
  NAPI_CALL(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}
