// Maps by fd: info, update, lookup, delete, key iteration. Key and value sizes are checked against
// the map itself, never trusted from JS.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bpf-internal.h"

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
napi_value map_info_fd(napi_env env, napi_callback_info info) {
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
napi_value map_update(napi_env env, napi_callback_info info) {
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
napi_value map_lookup(napi_env env, napi_callback_info info) {
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
napi_value map_delete(napi_env env, napi_callback_info info) {
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
napi_value map_next_key(napi_env env, napi_callback_info info) {
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
napi_value possible_cpus(napi_env env, napi_callback_info info) {
  (void)info;
  int n = libbpf_num_possible_cpus();
  if (n < 0) return throw_bpf(env, n, "libbpf_num_possible_cpus", NULL, NULL);
  return make_i32(env, n);
}
