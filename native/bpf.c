// libbpf half of the addon: BPF objects, maps, pinning, XDP bpf_links, BPF_PROG_TEST_RUN and
// ring buffers, on top of the system libbpf. This file registers the N-API functions; each concern
// has a file of its own (bpf-internal.h lists them and what they share).
//
// JS gets plain fds for maps, programs and links (the kernel's own handles: cheap to pin, dup and
// inspect) and external handles only where libbpf owns state (bpf_object, ring_buffer, probe set).
// Anything that can take long (the verifier, test runs with many repeats, mass attach) runs as
// async work on libuv's thread pool and returns a Promise; everything else is a single short
// syscall.
#include "bpf-internal.h"

napi_value bpf_init(napi_env env, napi_value exports) {
  log_install();
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
