// Helpers shared by the addon's C files: N-API error plumbing and errno-carrying exceptions.
#pragma once
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>

#define NAPI_CALL(env, call)                      \
  do {                                            \
    if ((call) != napi_ok) return napi_throw_last(env); \
  } while (0)

#define NAPI_CALL_BOOL(env, call)                 \
  do {                                            \
    if ((call) != napi_ok) { napi_throw_last(env); return false; } \
  } while (0)

// Throws the pending N-API error as a JS exception (if none is pending yet); returns NULL.
napi_value napi_throw_last(napi_env env);
// Throws Error{message: "<op>: <strerror> [<detail>]", errno: <positive errno>, code: "E..."}.
napi_value throw_errno(napi_env env, int err, const char *op, const char *detail);
// Copies a JS string argument into buf (NUL-terminated); throws a TypeError and returns false otherwise.
bool get_string(napi_env env, napi_value v, char *buf, size_t size);

// Runs fn(arg) with this thread inside the network namespace ns_fd (-1: the current one), then
// returns to the original namespace. Returns fn's result or -errno of setns.
int in_netns(int ns_fd, int (*fn)(void *), void *arg);
// Resolves a netns argument: undefined/null (current: fd -1), number (an open fd) or string (a path
// such as /var/run/netns/NAME, opened here: *opened tells the caller to close it). Throws on error.
bool netns_arg(napi_env env, napi_value v, int *fd, bool *opened);

napi_value netlink_init(napi_env env, napi_value exports);
napi_value bpf_init(napi_env env, napi_value exports);
