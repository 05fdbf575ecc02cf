// libbpf half of the addon: filled in by the XDP/tracing work (see src/bpf/).
#include "common.h"

napi_value bpf_init(napi_env env, napi_value exports) {
  (void)env;
  return exports;
}
