#include "vhost_ports.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "desired_config.h"

namespace dps::daemon {
namespace {

constexpr const char* kDefaultRunDir = "/var/run/dpswitch";

// Why `path` cannot be a vhost-user socket path ("" when it can).
std::string bad_socket_path(const std::string& path) {
  if (path.empty()) return "is empty";
  if (path.size() >= sizeof(sockaddr_un{}.sun_path))
    return "is longer than a Unix socket path (" + std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) + " bytes)";
  if (path.find(',') != std::string::npos) return "contains a comma (not allowed in DPDK devargs)";
  return "";
}

}  // namespace

bool is_vhost_type(const std::string& type) {
  return type == "dpdkvhostuser" || type == "dpdkvhostuserclient";
}

std::string vhost_sock_dir(const std::map<std::string, std::string>& ovs_other_config) {
  const char* env = std::getenv("DPS_RUNDIR");
  std::string run_dir = env && *env ? env : kDefaultRunDir;
  auto it = ovs_other_config.find("vhost-sock-dir");
  if (it == ovs_other_config.end() || it->second.empty()) return run_dir;
  if (it->second.front() == '/') return it->second;
  return run_dir + "/" + it->second;
}

VhostGlobals vhost_globals(const std::map<std::string, std::string>& ovs_other_config) {
  auto it = ovs_other_config.find("vhost-postcopy-support");
  return {vhost_sock_dir(ovs_other_config), it != ovs_other_config.end() && it->second == "true"};
}

std::optional<std::string> vhost_devargs(const InterfaceWant& w, const VhostGlobals& g,
                                         uint16_t queues, std::string* error) {
  bool client = w.type == "dpdkvhostuserclient";
  std::string path;
  if (client) {
    auto it = w.options.find("vhost-server-path");
    if (it == w.options.end() || it->second.empty()) {
      *error = "interface " + w.name + ": options:vhost-server-path is required for type dpdkvhostuserclient";
      return std::nullopt;
    }
    path = it->second;
  } else {
    path = g.sock_dir + "/" + w.name;
  }
  if (w.name.find_first_of(",= ") != std::string::npos) {
    *error = "interface " + w.name + ": a vhost-user interface name cannot contain ',', '=' or ' '";
    return std::nullopt;
  }
  if (std::string why = bad_socket_path(path); !why.empty()) {
    *error = "interface " + w.name + ": vhost-user socket " + path + " " + why;
    return std::nullopt;
  }
  // The vdev is named after the interface: one device per port, and the
  // name shows in DPDK's logs.
  return "net_vhost_" + w.name + ",iface=" + path + ",queues=" + std::to_string(queues) +
         (client ? ",client=1" : "") + (g.postcopy ? ",postcopy-support=1" : "");
}

bool remove_stale_vhost_socket(const std::string& devargs) {
  size_t at = devargs.find(",iface=");
  if (at == std::string::npos) return false;
  std::string path = devargs.substr(at + 7, devargs.find(',', at + 7) - (at + 7));
  struct stat st {};
  if (!bad_socket_path(path).empty() || ::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), path.size());
  bool refused = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 && errno == ECONNREFUSED;
  ::close(fd);
  return refused && ::unlink(path.c_str()) == 0;
}

}  // namespace dps::daemon
