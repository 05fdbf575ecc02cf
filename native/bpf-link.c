// Pinning in bpffs, XDP bpf_links (made inside a netns), link update and detach, and the info of
// links and programs.
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <unistd.h>

#include "bpf-internal.h"

// bpfObjPin(fd, path): pins a map, program or link in bpffs (it then outlives this process).
napi_value obj_pin(napi_env env, napi_callback_info info) {
  GET_ARGS(2);
  int32_t fd;
  char path[4096];
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  if (!get_string(env, argv[1], path, sizeof path)) return NULL;
  int err = bpf_obj_pin(fd, path);
  if (err) return throw_bpf(env, err, "bpf_obj_pin", path, NULL);
  return NULL;
}

// bpfObjGet(path) -> fd of a pinned object (close it with closeFd).
napi_value obj_get(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  char path[4096];
  if (!get_string(env, argv[0], path, sizeof path)) return NULL;
  int fd = bpf_obj_get(path);
  if (fd < 0) return throw_bpf(env, fd, "bpf_obj_get", path, NULL);
  return make_i32(env, fd);
}

struct xdp_link_args {
  int prog_fd;
  uint32_t flags;
  const char *ifname;  // resolved inside the netns when set, else ifindex is used
  int ifindex;
};

// Runs inside the target netns: BPF_LINK_CREATE resolves ifindex in the caller's namespace.
static int do_xdp_link(void *p) {
  struct xdp_link_args *a = p;
  if (a->ifname) {
    a->ifindex = (int)if_nametoindex(a->ifname);
    if (!a->ifindex) return -errno;
  }
  LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = a->flags);
  return bpf_link_create(a->prog_fd, a->ifindex, BPF_XDP, &opts);
}

// bpfXdpLinkCreate(progFd, ifindex | ifname, flags, netns?) -> link fd. flags: 0 (native if the
// driver can, else generic), XDP_FLAGS_SKB_MODE 2, XDP_FLAGS_DRV_MODE 4. The link detaches when
// its last fd closes unless it is pinned.
napi_value xdp_link_create(napi_env env, napi_callback_info info) {
  GET_ARGS(4);
  const char *op = "bpf_link_create(BPF_XDP)";
  struct xdp_link_args a = {0};
  char ifname[IF_NAMESIZE + 1];
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &a.prog_fd));
  napi_valuetype t;
  NAPI_CALL(env, napi_typeof(env, argv[1], &t));
  if (t == napi_string) {
    if (!get_string(env, argv[1], ifname, sizeof ifname)) return NULL;
    a.ifname = ifname;
  } else {
    NAPI_CALL(env, napi_get_value_int32(env, argv[1], &a.ifindex));
  }
  if (!is_nullish(env, argv[2])) NAPI_CALL(env, napi_get_value_uint32(env, argv[2], &a.flags));
  int ns_fd;
  bool opened;
  if (!netns_arg(env, argv[3], &ns_fd, &opened)) return NULL;
  int fd = in_netns(ns_fd, do_xdp_link, &a);
  if (opened) close(ns_fd);
  if (fd < 0) {
    char detail[64];
    if (a.ifname)
      snprintf(detail, sizeof detail, "dev %s", a.ifname);
    else
      snprintf(detail, sizeof detail, "ifindex %d", a.ifindex);
    return throw_bpf(env, fd, op, detail, NULL);
  }
  return make_i32(env, fd);
}

// bpfLinkUpdate(linkFd, newProgFd, expectedOldProgFd?): atomic program replacement; with the
// expected old program it is a compare-and-swap (EPERM if another program is attached).
napi_value link_update(napi_env env, napi_callback_info info) {
  GET_ARGS(3);
  int32_t link_fd, prog_fd, old_fd = -1;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &link_fd));
  NAPI_CALL(env, napi_get_value_int32(env, argv[1], &prog_fd));
  if (!is_nullish(env, argv[2])) NAPI_CALL(env, napi_get_value_int32(env, argv[2], &old_fd));
  LIBBPF_OPTS(bpf_link_update_opts, opts, .flags = old_fd >= 0 ? BPF_F_REPLACE : 0,
              .old_prog_fd = old_fd >= 0 ? (uint32_t)old_fd : 0);
  int err = bpf_link_update(link_fd, prog_fd, &opts);
  if (err) return throw_bpf(env, err, "bpf_link_update", NULL, NULL);
  return NULL;
}

// bpfLinkDetach(linkFd): detaches now, even if pinned; the link object lingers (defunct) until
// its fds and pins are gone.
napi_value link_detach(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int32_t fd;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  int err = bpf_link_detach(fd);
  if (err) return throw_bpf(env, err, "bpf_link_detach", NULL, NULL);
  return NULL;
}

// bpfLinkInfo(fd) -> {id, progId, type, ifindex?}. ifindex (XDP links) is 0 once detached.
napi_value link_info(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int32_t fd;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  struct bpf_link_info li = {0};
  uint32_t len = sizeof li;
  int err = bpf_obj_get_info_by_fd(fd, &li, &len);
  if (err) return throw_bpf(env, err, "bpfLinkInfo", "not a BPF link fd?", NULL);
  napi_value res;
  NAPI_CALL(env, napi_create_object(env, &res));
  if (!set_u32(env, res, "id", li.id) || !set_u32(env, res, "progId", li.prog_id) ||
      !set_u32(env, res, "type", li.type))
    return NULL;
  if (li.type == BPF_LINK_TYPE_XDP && !set_u32(env, res, "ifindex", li.xdp.ifindex)) return NULL;
  return res;
}

// bpfProgInfo(fd) -> {id, name, type, tag (hex)}
napi_value prog_info(napi_env env, napi_callback_info info) {
  GET_ARGS(1);
  int32_t fd;
  NAPI_CALL(env, napi_get_value_int32(env, argv[0], &fd));
  struct bpf_prog_info pi = {0};
  uint32_t len = sizeof pi;
  int err = bpf_obj_get_info_by_fd(fd, &pi, &len);
  if (err) return throw_bpf(env, err, "bpfProgInfo", "not a BPF program fd?", NULL);
  char tag[2 * BPF_TAG_SIZE + 1];
  for (int i = 0; i < BPF_TAG_SIZE; i++) snprintf(tag + 2 * i, 3, "%02x", pi.tag[i]);
  napi_value res;
  NAPI_CALL(env, napi_create_object(env, &res));
  if (!set_u32(env, res, "id", pi.id) || !set_str(env, res, "name", pi.name) ||
      !set_u32(env, res, "type", pi.type) || !set_str(env, res, "tag", tag))
    return NULL;
  return res;
}
