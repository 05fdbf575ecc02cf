// SPDX-License-Identifier: Apache-2.0
// A minimal packet generator for bench/xdp.bench.ts (built there with cc; not part of the agent):
// sends one frame over and over through an AF_PACKET socket (PACKET_QDISC_BYPASS, sendmmsg in
// batches) on an interface, for a given time, and prints {"sent":N,"seconds":S} as JSON.
//
//   afpacket_gen <ifname> <frame as hex> <seconds> [batch]
//
// Run it inside the namespace of <ifname> (ip netns exec). On a veth, the receiving side's work
// (the peer's XDP program, or the kernel's receive path) runs in softirq on the sending CPU, so
// the rate it reaches is that of the whole pipeline.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gen_common.h"

#define MAX_BATCH 256

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s <ifname> <frame-hex> <seconds> [batch]\n", argv[0]);
    return 2;
  }
  static unsigned char frame[9000];
  int len = unhex(argv[2], frame, sizeof frame);
  double seconds = atof(argv[3]);
  int batch = argc > 4 ? atoi(argv[4]) : 64;
  if (len < 14 || seconds <= 0 || batch < 1 || batch > MAX_BATCH) {
    fprintf(stderr, "bad arguments\n");
    return 2;
  }
  int ifindex = (int)if_nametoindex(argv[1]);
  if (!ifindex) {
    perror("if_nametoindex");
    return 1;
  }
  int fd = socket(AF_PACKET, SOCK_RAW, 0);  // protocol 0: send only, never receive
  if (fd < 0) {
    perror("socket");
    return 1;
  }
  int one = 1;
  if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one)) perror("PACKET_QDISC_BYPASS");
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  struct sockaddr_ll to = {.sll_family = AF_PACKET, .sll_ifindex = ifindex, .sll_halen = ETH_ALEN};
  memcpy(to.sll_addr, frame, ETH_ALEN);

  struct iovec iov = {.iov_base = frame, .iov_len = (size_t)len};
  struct mmsghdr msgs[MAX_BATCH];
  memset(msgs, 0, sizeof msgs);
  for (int i = 0; i < batch; i++) {
    msgs[i].msg_hdr.msg_name = &to;
    msgs[i].msg_hdr.msg_namelen = sizeof to;
    msgs[i].msg_hdr.msg_iov = &iov;
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  unsigned long long sent = 0, errors = 0;
  double t0 = now(), end = t0 + seconds, t = t0;
  while (t < end) {
    for (int k = 0; k < 16; k++) {  // check the clock every 16 batches
      int n = sendmmsg(fd, msgs, (unsigned)batch, 0);
      if (n > 0)
        sent += (unsigned)n;
      else if (errno != EAGAIN && errno != ENOBUFS && errno != EINTR) {
        perror("sendmmsg");
        return 1;
      } else
        errors++;
    }
    t = now();
  }
  printf("{\"sent\":%llu,\"errors\":%llu,\"seconds\":%.6f}\n", sent, errors, t - t0);
  close(fd);
  return 0;
}
