// tnl_kernel.h - what the kernel knows about the internal ports: their tap
// devices' addresses, MACs and MTUs, and a netlink subscription that says
// when those change (the user runs `ip addr add 192.0.2.1/24 dev br-phy`).
//
// What: kernel_local_ports() lists every internal port of every bridge (the
// bridge's LOCAL port, a port named like its bridge, or a port whose kernel
// device is a TUN/TAP device: /sys/class/net/NAME/tun_flags) with the
// device's MAC, MTU and IPv4/IPv6 addresses (getifaddrs; IPv6 link-local
// addresses are left out: they make no tunnel endpoints). A port whose
// device does not exist (yet) is listed without addresses. NetlinkWatch
// joins the rtnetlink link and address groups; pending() drains what
// arrived (non-blocking) and says whether anything did.
//
// Design: called from the control loop only on a change notification or a
// port change, never per packet or per translation.
//
// Thread-safety: plain functions; a NetlinkWatch belongs to one thread.
#pragma once

#include <string>
#include <vector>

#include "bridge.h"
#include "tnl_router.h"

namespace dps::ofproto {

std::vector<LocalPort> kernel_local_ports(const BridgeMap& bridges);

class NetlinkWatch {
 public:
  NetlinkWatch();
  ~NetlinkWatch();
  NetlinkWatch(const NetlinkWatch&) = delete;
  NetlinkWatch& operator=(const NetlinkWatch&) = delete;
  bool ok() const { return fd_ >= 0; }
  // Drains the socket; true when a link or address message arrived (or
  // the socket overflowed: something may have changed).
  bool pending();

 private:
  int fd_ = -1;
};

}  // namespace dps::ofproto
