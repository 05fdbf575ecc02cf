// Small argument and result helpers of the libbpf half: optional properties, Buffers, result
// objects, and type-tagged externals.
#include "bpf-internal.h"

bool is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) != napi_ok || t == napi_undefined || t == napi_null;
}

bool get_buffer(napi_env env, napi_value v, void **data, size_t *len) {
  bool ok;
  NAPI_CALL_BOOL(env, napi_is_buffer(env, v, &ok));
  if (!ok) {
    napi_throw_type_error(env, NULL, "expected a Buffer");
    return false;
  }
  NAPI_CALL_BOOL(env, napi_get_buffer_info(env, v, data, len));
  return true;
}

bool get_opt(napi_env env, napi_value obj, const char *name, napi_value *v) {
  *v = NULL;
  if (is_nullish(env, obj)) return true;
  napi_value p;
  NAPI_CALL_BOOL(env, napi_get_named_property(env, obj, name, &p));
  if (!is_nullish(env, p)) *v = p;
  return true;
}

bool set_u32(napi_env env, napi_value obj, const char *name, uint32_t value) {
  napi_value v;
  NAPI_CALL_BOOL(env, napi_create_uint32(env, value, &v));
  NAPI_CALL_BOOL(env, napi_set_named_property(env, obj, name, v));
  return true;
}

bool set_i32(napi_env env, napi_value obj, const char *name, int32_t value) {
  napi_value v;
  NAPI_CALL_BOOL(env, napi_create_int32(env, value, &v));
  NAPI_CALL_BOOL(env, napi_set_named_property(env, obj, name, v));
  return true;
}

bool set_str(napi_env env, napi_value obj, const char *name, const char *value) {
  napi_value v;
  NAPI_CALL_BOOL(env, napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v));
  NAPI_CALL_BOOL(env, napi_set_named_property(env, obj, name, v));
  return true;
}

napi_value make_bool(napi_env env, bool b) {
  napi_value v;
  NAPI_CALL(env, napi_get_boolean(env, b, &v));
  return v;
}

napi_value make_i32(napi_env env, int32_t n) {
  napi_value v;
  NAPI_CALL(env, napi_create_int32(env, n, &v));
  return v;
}

void *get_tagged(napi_env env, napi_value v, const napi_type_tag *tag, const char *what) {
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
