// Tracing probes (src/trace/): programs configured per target, mass attach.
//
// A trampoline program (fentry, fexit, tp_btf) is verified against one target, fixed at load, so
// tracing thousands of functions means loading thousands of programs: the tracer loads one
// template per argument slot through libbpf (CO-RE relocated), takes its final instructions
// (bpfProgramInsns, bpf-object.c) and loads clones of them here, one per target, each with the
// target's index written over a marker ld_imm64. kprobes share one program (the index is the bpf
// cookie). Every attachment is a bpf_link fd kept in a probe set (bpf-probes.c); the kernel
// detaches a link when its last fd closes, so nothing outlives the process, whatever way it ends.
// Loading and attaching are slow (verifier, ftrace text patching): batches run as async work on
// libuv's thread pool, and callers may run several batches at once.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bpf-internal.h"

#define KSYM_NAME_LEN_MAX 512

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
napi_value ps_attach(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  struct probe_set *s = get_probe_set(env, argv[0]);
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


// attach_btf_obj_fd of trampoline programs for module functions. Close it with closeFd.
napi_value btf_obj_fd(napi_env env, napi_callback_info info) {
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
napi_value kprobe_pmu_info(napi_env env, napi_callback_info info) {
  (void)info;
  int bit, type = kprobe_pmu(&bit);
  napi_value res;
  NAPI_CALL(env, napi_create_object(env, &res));
  if (!set_i32(env, res, "type", type) || !set_i32(env, res, "retprobeBit", bit)) return NULL;
  return res;
}
