#include "tnl_kernel.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "kernel_if.h"
#include "of_actions.h"

namespace dps::ofproto {

namespace {

// The device's addresses as tunnel endpoints: IPv6 link-local ones make
// none.
std::vector<LocalAddr> endpoint_addrs(const std::string& dev) {
  std::vector<LocalAddr> out;
  for (const netdev::KernelIfAddr& k : netdev::kernel_if_addrs(dev)) {
    if (k.v6 && k.addr[0] == 0xfe && (k.addr[1] & 0xc0) == 0x80) continue;
    LocalAddr a;
    a.ip.v6 = k.v6;
    a.ip.b = k.addr;
    a.plen = k.prefix_len;
    out.push_back(a);
  }
  return out;
}

bool sys_exists(const std::string& name, const char* attr) {
  return access(("/sys/class/net/" + name + "/" + attr).c_str(), F_OK) == 0;
}

}  // namespace

std::vector<LocalPort> kernel_local_ports(const BridgeMap& bridges) {
  std::vector<LocalPort> out;
  for (const Bridge* b : bridges.bridges())
    for (const auto& [no, p] : b->ports) {
      if (p.is_patch() || p.is_tunnel() || p.name.empty() || p.name.size() >= IFNAMSIZ) continue;
      if (no != kPortLocal && p.name != b->name && !sys_exists(p.name, "tun_flags")) continue;
      LocalPort lp;
      lp.bridge = b->name;
      lp.name = p.name;
      lp.of_port = no;
      lp.dp_port = p.dp_port;
      if (auto st = netdev::kernel_if_state(p.name)) {
        lp.mac = st->mac;
        lp.addrs = endpoint_addrs(p.name);
        if (st->mtu >= 68 && st->mtu <= 65535) lp.mtu = static_cast<uint16_t>(st->mtu);
      }
      out.push_back(std::move(lp));
    }
  return out;
}

NetlinkWatch::NetlinkWatch() {
  fd_ = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd_ < 0) return;
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

NetlinkWatch::~NetlinkWatch() {
  if (fd_ >= 0) close(fd_);
}

bool NetlinkWatch::pending() {
  if (fd_ < 0) return false;
  bool any = false;
  alignas(nlmsghdr) char buf[8192];
  for (;;) {
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      any = true;
      continue;
    }
    if (n < 0 && errno == ENOBUFS) {  // overflowed: assume a change
      any = true;
      continue;
    }
    return any;  // EAGAIN (drained) or an error
  }
}

}  // namespace dps::ofproto
