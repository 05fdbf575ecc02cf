{
  "targets": [
    {
      "target_name": "srv6_native",
      "sources": [
        "native/addon.c",
        "native/netlink.c",
        "native/bpf.c",
        "native/bpf-errors.c",
        "native/bpf-args.c",
        "native/bpf-object.c",
        "native/bpf-map.c",
        "native/bpf-link.c",
        "native/bpf-test-run.c",
        "native/bpf-ringbuf.c",
        "native/bpf-features.c",
        "native/bpf-probes.c",
        "native/bpf-probe-attach.c"
      ],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O2"],
      "libraries": ["-lbpf"]
    }
  ]
}
