{
  "targets": [
    {
      "target_name": "srv6_native",
      "sources": ["native/addon.c", "native/netlink.c", "native/bpf.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror", "-O2"],
      "libraries": ["-lbpf"]
    }
  ]
}
