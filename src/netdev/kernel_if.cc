#include "kernel_if.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dps::netdev {
namespace {

// An AF_INET datagram socket for the interface ioctls, closed on scope exit.
class CtlSocket {
 public:
  CtlSocket() : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {}
  ~CtlSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  CtlSocket(const CtlSocket&) = delete;
  CtlSocket& operator=(const CtlSocket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

ifreq request_for(const std::string& name) {
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  return ifr;
}

std::string sys_error(const std::string& what, int err) { return what + ": " + std::strerror(err); }

// Runs one SIOC* request on `name`; "" or the reason.
std::string ifreq_ioctl(unsigned long req, ifreq* ifr, const char* what) {
  CtlSocket s;
  if (s.fd() < 0) return sys_error("cannot open a control socket", errno);
  if (::ioctl(s.fd(), req, ifr) != 0)
    return sys_error(std::string(what) + " on " + ifr->ifr_name, errno);
  return "";
}

uint8_t prefix_of(const sockaddr* mask) {
  if (!mask) return 0;
  const uint8_t* b;
  size_t n;
  if (mask->sa_family == AF_INET) {
    b = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(mask)->sin_addr);
    n = 4;
  } else {
    b = reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(mask)->sin6_addr);
    n = 16;
  }
  uint8_t len = 0;
  for (size_t i = 0; i < n; i++) len = static_cast<uint8_t>(len + __builtin_popcount(b[i]));
  return len;
}

}  // namespace

std::string check_ifname(const std::string& name) {
  if (name.empty()) return "an empty name cannot be a kernel interface name";
  if (name.size() > kIfNameMax)
    return "'" + name + "' is longer than " + std::to_string(kIfNameMax) +
           " characters (a kernel interface name)";
  if (name == "." || name == "..") return "'" + name + "' is not a valid kernel interface name";
  for (char c : name)
    if (c == '/' || c == ':' || c <= ' ' || c == 0x7f)
      return "'" + name + "' contains a character a kernel interface name cannot have";
  return "";
}

int create_tap(const std::string& name, std::string* error) {
  if (std::string why = check_ifname(name); !why.empty()) {
    *error = why;
    return -1;
  }
  if (kernel_if_state(name)) {
    *error = "a kernel interface named " + name + " already exists";
    return -1;
  }
  int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *error = sys_error("cannot open /dev/net/tun", errno);
    return -1;
  }
  ifreq ifr = request_for(name);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (::ioctl(fd, TUNSETIFF, &ifr) != 0) {
    *error = sys_error("cannot create tap device " + name, errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

std::optional<KernelIfState> kernel_if_state(const std::string& name) {
  if (name.empty() || name.size() > kIfNameMax) return std::nullopt;
  CtlSocket s;
  if (s.fd() < 0) return std::nullopt;
  ifreq ifr = request_for(name);
  if (::ioctl(s.fd(), SIOCGIFINDEX, &ifr) != 0) return std::nullopt;
  KernelIfState st;
  st.ifindex = ifr.ifr_ifindex;
  if (::ioctl(s.fd(), SIOCGIFFLAGS, &ifr) == 0) {
    st.up = ifr.ifr_flags & IFF_UP;
    st.running = ifr.ifr_flags & IFF_RUNNING;
  }
  if (::ioctl(s.fd(), SIOCGIFMTU, &ifr) == 0) st.mtu = static_cast<uint32_t>(ifr.ifr_mtu);
  if (::ioctl(s.fd(), SIOCGIFHWADDR, &ifr) == 0 && ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER)
    std::memcpy(st.mac.data(), ifr.ifr_hwaddr.sa_data, 6);
  return st;
}

std::string set_kernel_if_mtu(const std::string& name, uint32_t mtu) {
  ifreq ifr = request_for(name);
  ifr.ifr_mtu = static_cast<int>(mtu);
  std::string err = ifreq_ioctl(SIOCSIFMTU, &ifr, ("cannot set MTU " + std::to_string(mtu)).c_str());
  return err;
}

std::string set_kernel_if_mac(const std::string& name, const std::array<uint8_t, 6>& mac) {
  ifreq ifr = request_for(name);
  ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
  std::memcpy(ifr.ifr_hwaddr.sa_data, mac.data(), 6);
  return ifreq_ioctl(SIOCSIFHWADDR, &ifr, "cannot set the MAC address");
}

std::string set_kernel_if_up(const std::string& name, bool up) {
  ifreq ifr = request_for(name);
  if (std::string err = ifreq_ioctl(SIOCGIFFLAGS, &ifr, "cannot read the flags"); !err.empty())
    return err;
  if (up) ifr.ifr_flags |= IFF_UP;
  else ifr.ifr_flags &= ~IFF_UP;
  return ifreq_ioctl(SIOCSIFFLAGS, &ifr, up ? "cannot bring up" : "cannot bring down");
}

std::vector<KernelIfAddr> kernel_if_addrs(const std::string& name) {
  std::vector<KernelIfAddr> out;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (!a->ifa_addr || !a->ifa_name || name != a->ifa_name) continue;
    KernelIfAddr k;
    if (a->ifa_addr->sa_family == AF_INET) {
      std::memcpy(k.addr.data(), &reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr, 4);
    } else if (a->ifa_addr->sa_family == AF_INET6) {
      k.v6 = true;
      std::memcpy(k.addr.data(), &reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr, 16);
    } else {
      continue;
    }
    k.prefix_len = prefix_of(a->ifa_netmask);
    out.push_back(k);
  }
  ::freeifaddrs(list);
  return out;
}

}  // namespace dps::netdev
