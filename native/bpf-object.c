// BPF objects (libbpf's bpf_object behind a tagged external): open, configure before load
// (globals, map sizes, programs' autoload and attach target), load on the thread pool (the
// verifier can take long), the fds of its programs and maps, close.
#define _GNU_SOURCE
#include <bpf/btf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf-internal.h"

// Externals carry a type tag so that a ring buffer handle passed where an object is expected
// (or any foreign external) is an exception instead of memory corruption.
static const napi_type_tag OBJ_TAG = {0x7372763662706f62ULL, 0x6a6563745f746167ULL};

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
napi_value obj_open(napi_env env, napi_callback_info info) {
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
napi_value obj_set_global(napi_env env, napi_callback_info info) {
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
napi_value obj_load(napi_env env, napi_callback_info info) {
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
napi_value obj_prog_fd(napi_env env, napi_callback_info info) {
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
napi_value obj_map_fd(napi_env env, napi_callback_info info) {
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
napi_value obj_map_info(napi_env env, napi_callback_info info) {
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
napi_value obj_set_max_entries(napi_env env, napi_callback_info info) {
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
napi_value obj_close(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  struct obj_handle *h = get_tagged(env, argv[0], &OBJ_TAG, "expected a BPF object handle");
  if (!h) return NULL;
  if (h->loading) return throw_bpf(env, EBUSY, "bpfObjectClose", "object is being loaded", NULL);
  if (h->obj) bpf_object__close(h->obj);
  h->obj = NULL;
  return NULL;
}

// bpfProgramSetup(obj, name, {autoload?, attachTarget?}) before load: whether the program is
// loaded at all, and the function or tracepoint a trampoline program is verified against.
napi_value prog_setup(napi_env env, napi_callback_info info) {
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
napi_value prog_insns(napi_env env, napi_callback_info info) {
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
