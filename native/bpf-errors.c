// libbpf's messages, captured per call so the verifier's explanation reaches the JS error, and the
// Error{message, errno, code, op, log?} every libbpf failure is thrown as.
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf-internal.h"

// A verifier log can be megabytes; an error message keeps the start (which program, which step
// failed) and the end (the verifier's verdict) and marks the gap.
#define LOG_MAX (64 << 10)
#define LOG_HEAD (8 << 10)

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

void log_install(void) {
  libbpf_set_print(libbpf_print);
}

void log_begin(struct log *l) {
  *l = (struct log){0};
  capture = l;
}

void log_end(void) {
  capture = NULL;
}

void log_free(struct log *l) {
  free(l->buf);
  l->buf = NULL;
}

// ---- errors ----

napi_value make_error(napi_env env, int err, const char *op, const char *detail,
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

napi_value throw_bpf(napi_env env, int err, const char *op, const char *detail,
                            const struct log *log) {
  napi_throw(env, make_error(env, err, op, detail, log));
  return NULL;
}
