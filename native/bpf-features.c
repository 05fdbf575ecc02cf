// Feature probes: what the running kernel's BPF can do (each loads a tiny program or map: a few ms
// in all).
#include "bpf-internal.h"

napi_value features(napi_env env, napi_callback_info info) {
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
