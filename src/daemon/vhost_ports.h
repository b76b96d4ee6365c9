// vhost_ports.h - vhost-user Interfaces as OVS users configure them, turned
// into the DPDK vdev that serves them.
//
// What: `type=dpdkvhostuser` (dpswitchd is the vhost-user server: the socket
//   is <vhost-sock-dir>/<interface name>) and `type=dpdkvhostuserclient`
//   (options:vhost-server-path=PATH: dpswitchd connects to the VM's socket,
//   and reconnects whenever the VM side goes away and comes back) become
//   net_vhost devargs (iface=, client=1, queues=n_rxq). vhost-sock-dir is
//   Open_vSwitch other_config:vhost-sock-dir: absolute, or relative to the
//   run directory (DPS_RUNDIR, default /var/run/dpswitch), as OVS resolves
//   it against OVS_RUNDIR. other_config:vhost-postcopy-support=true turns
//   on DPDK's post-copy live migration support for every vhost port.
// Design: pure functions of the configuration, so the reconciler's plan()
//   stays free of side effects; the device (and, in server mode, the
//   socket file) is created when the port opens and removed when it closes
//   (DPDK unregisters the vhost driver with the port).
// Thread-safety: stateless.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace dps::daemon {

struct InterfaceWant;

bool is_vhost_type(const std::string& type);

// The directory of dpdkvhostuser sockets, resolved.
std::string vhost_sock_dir(const std::map<std::string, std::string>& ovs_other_config);

// What Open_vSwitch other_config says for every vhost port: the socket
// directory and vhost-postcopy-support (as OVS, a global key).
struct VhostGlobals {
  std::string sock_dir;
  bool postcopy = false;
};
VhostGlobals vhost_globals(const std::map<std::string, std::string>& ovs_other_config);

// The net_vhost devargs of vhost Interface `w` with `queues` queue pairs,
// or nullopt with *error (e.g. a client port without vhost-server-path, a
// socket path longer than a Unix socket address, a comma in a path).
std::optional<std::string> vhost_devargs(const InterfaceWant& w, const VhostGlobals& g,
                                         uint16_t queues, std::string* error);

// A dpdkvhostuser port's socket left behind by a dpswitchd that did not
// stop cleanly makes DPDK's bind fail ("Address already in use"): before
// opening a server-mode port, the socket file of its devargs (iface=) is
// removed when nothing listens on it (connect: ECONNREFUSED). A socket
// something listens on, or a file that is not a socket, is left alone (the
// open then fails with DPDK's reason). True when a file was removed.
bool remove_stale_vhost_socket(const std::string& devargs);

}  // namespace dps::daemon
