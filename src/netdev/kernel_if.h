// kernel_if.h - the Linux network interfaces behind internal ports: tap
// creation, MTU, up/down, MAC and addresses, by name.
//
// What: plain functions over ioctl(2) and getifaddrs(3), no DPDK, for the
// tap ports (tap_netdev.h) and for whoever needs the host's view of an
// internal port (the tunnel route table reads the addresses the user put on
// it with `ip addr add`).
//
// Design: every function names the interface and returns the reason of a
// failure as text ("" = done), so errors reach Interface.error as they are.
// A tap is created non-persistent: it disappears when its fd is closed
// (dpswitchd stopping or crashing included).
//
// Thread-safety: stateless; each call opens and closes its own socket.
// Control-plane only (each is a syscall or several).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace dps::netdev {

// Linux IFNAMSIZ - 1.
inline constexpr size_t kIfNameMax = 15;

// Why `name` cannot be a kernel interface name ("" when it can).
std::string check_ifname(const std::string& name);

// Creates tap device `name` (IFF_TAP | IFF_NO_PI), non-blocking fd. Fails
// (with the reason) when an interface of that name exists already, so a
// device that is not ours is never taken over. Returns the fd, or -1 with
// *error.
int create_tap(const std::string& name, std::string* error);

struct KernelIfState {
  int ifindex = 0;
  bool up = false;       // IFF_UP (administratively)
  bool running = false;  // IFF_RUNNING (carrier)
  uint32_t mtu = 0;
  std::array<uint8_t, 6> mac{};
};

// nullopt when there is no such interface.
std::optional<KernelIfState> kernel_if_state(const std::string& name);
std::string set_kernel_if_mtu(const std::string& name, uint32_t mtu);
std::string set_kernel_if_up(const std::string& name, bool up);
std::string set_kernel_if_mac(const std::string& name, const std::array<uint8_t, 6>& mac);

// One address of an interface (IPv4 or IPv6, network order).
struct KernelIfAddr {
  bool v6 = false;
  std::array<uint8_t, 16> addr{};  // IPv4 in addr[0..3]
  uint8_t prefix_len = 0;
  bool operator==(const KernelIfAddr&) const = default;
};

// The addresses configured on `name` right now (empty when none, or no
// such interface). IPv6 link-local addresses are included.
std::vector<KernelIfAddr> kernel_if_addrs(const std::string& name);

}  // namespace dps::netdev
