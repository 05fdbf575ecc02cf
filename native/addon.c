// Module entry: the netlink half (netlink.c) and the libbpf half (bpf.c) of srv6_native.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common.h"

napi_value napi_throw_last(napi_env env) {
  bool pending;
  napi_is_exception_pending(env, &pending);
  if (!pending) {
    const napi_extended_error_info *info;
    napi_get_last_error_info(env, &info);
    napi_throw_error(env, NULL, info && info->error_message ? info->error_message : "N-API call failed");
  }
  return NULL;
}

napi_value throw_errno(napi_env env, int err, const char *op, const char *detail) {
  char msg[512];
  if (detail)
    snprintf(msg, sizeof msg, "%s: %s (%s)", op, strerror(err), detail);
  else
    snprintf(msg, sizeof msg, "%s: %s", op, strerror(err));
  napi_value m, e, n, c;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, NULL, m, &e);
  napi_create_int32(env, err, &n);
  napi_set_named_property(env, e, "errno", n);
  const char *name = strerrorname_np(err);
  if (name) {
    napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &c);
    napi_set_named_property(env, e, "code", c);
  }
  napi_throw(env, e);
  return NULL;
}

bool get_string(napi_env env, napi_value v, char *buf, size_t size) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, buf, size, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected a string");
    return false;
  }
  if (len >= size - 1) {
    napi_throw_range_error(env, NULL, "string too long");
    return false;
  }
  return true;
}

static napi_value init(napi_env env, napi_value exports) {
  if (!netlink_init(env, exports)) return NULL;
  if (!bpf_init(env, exports)) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
