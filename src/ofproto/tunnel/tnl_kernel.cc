#include "tnl_kernel.h"

#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

#include "of_actions.h"

namespace dps::ofproto {

namespace {

struct KernelIf {
  MacAddr mac{};
  std::vector<LocalAddr> addrs;
};

uint8_t prefix_len(const sockaddr* mask) {
  if (!mask) return 0;
  const uint8_t* p;
  size_t n;
  if (mask->sa_family == AF_INET) {
    p = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(mask)->sin_addr);
    n = 4;
  } else {
    p = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr);
    n = 16;
  }
  unsigned len = 0;
  for (size_t i = 0; i < n; i++) len += static_cast<unsigned>(__builtin_popcount(p[i]));
  return static_cast<uint8_t>(len);
}

void add_ifaddr(const ifaddrs* ifa, KernelIf* k) {
  const sockaddr* sa = ifa->ifa_addr;
  if (sa->sa_family == AF_PACKET) {
    const auto* ll = reinterpret_cast<const sockaddr_ll*>(sa);
    if (ll->sll_halen == 6) std::memcpy(k->mac.data(), ll->sll_addr, 6);
    return;
  }
  LocalAddr a;
  if (sa->sa_family == AF_INET) {
    std::memcpy(a.ip.b.data(), &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
  } else if (sa->sa_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr)) return;
    a.ip.v6 = true;
    std::memcpy(a.ip.b.data(), &s6->sin6_addr, 16);
  } else {
    return;
  }
  a.plen = prefix_len(ifa->ifa_netmask);
  k->addrs.push_back(a);
}

std::map<std::string, KernelIf> kernel_interfaces() {
  std::map<std::string, KernelIf> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (const ifaddrs* ifa = list; ifa; ifa = ifa->ifa_next)
    if (ifa->ifa_name && ifa->ifa_addr) add_ifaddr(ifa, &out[ifa->ifa_name]);
  freeifaddrs(list);
  return out;
}

bool sys_exists(const std::string& name, const char* attr) {
  return access(("/sys/class/net/" + name + "/" + attr).c_str(), F_OK) == 0;
}

uint16_t sys_mtu(const std::string& name) {
  std::ifstream f("/sys/class/net/" + name + "/mtu");
  unsigned mtu = 0;
  if (f >> mtu && mtu >= 68 && mtu <= 65535) return static_cast<uint16_t>(mtu);
  return 1500;
}

}  // namespace

std::vector<LocalPort> kernel_local_ports(const BridgeMap& bridges) {
  std::vector<LocalPort> out;
  std::map<std::string, KernelIf> ifs;
  bool read = false;
  for (const Bridge* b : bridges.bridges())
    for (const auto& [no, p] : b->ports) {
      if (p.is_patch() || p.is_tunnel() || p.name.empty() || p.name.size() >= IFNAMSIZ) continue;
      if (no != kPortLocal && p.name != b->name && !sys_exists(p.name, "tun_flags")) continue;
      if (!read) {
        ifs = kernel_interfaces();
        read = true;
      }
      LocalPort lp;
      lp.bridge = b->name;
      lp.name = p.name;
      lp.of_port = no;
      lp.dp_port = p.dp_port;
      if (auto it = ifs.find(p.name); it != ifs.end()) {
        lp.mac = it->second.mac;
        lp.addrs = it->second.addrs;
        lp.mtu = sys_mtu(p.name);
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
