// tap_netdev_test.cc - internal ports: TapNetdev creates a kernel tap named
// after the port (up, MTU), moves frames both ways through its TapIo
// thread (checked from the kernel side with an AF_PACKET socket on the
// tap), chains frames larger than one mbuf, changes its MTU in place,
// reports the kernel's details and removes the device when closed; the
// errors for names that cannot be had; kernel_if_addrs() sees `ip addr add`.
// Needs root (CAP_NET_ADMIN) and /dev/net/tun: skipped otherwise.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <poll.h>
#include <rte_mbuf.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "dpdk_netdev.h"
#include "kernel_if.h"
#include "mbuf_pool.h"
#include "tap_netdev.h"
#include "test_eal.h"

using namespace dps::netdev;

namespace {

constexpr uint16_t kTestEtherType = 0x88b5;  // IEEE local experimental

bool can_make_taps() { return geteuid() == 0 && access("/dev/net/tun", R_OK | W_OK) == 0; }

std::string tap_name(const char* tag) { return std::string("dpst") + tag + std::to_string(getpid() % 100000); }

std::vector<uint8_t> test_frame(size_t len, uint8_t fill) {
  std::vector<uint8_t> f(len, fill);
  for (int i = 0; i < 6; i++) f[i] = 0xff;                              // broadcast
  for (int i = 6; i < 12; i++) f[i] = static_cast<uint8_t>(0x02 + i);  // locally administered
  f[12] = kTestEtherType >> 8;
  f[13] = kTestEtherType & 0xff;
  return f;
}

// An AF_PACKET socket on the tap: what the switch sends arrives here, what
// is sent here goes to the switch.
struct KernelSide {
  int fd = -1;
  int ifindex = 0;
  explicit KernelSide(int idx) : ifindex(idx) {
    fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(kTestEtherType));
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(kTestEtherType);
    sll.sll_ifindex = ifindex;
    REQUIRE(fd >= 0);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&sll), sizeof sll) == 0);
  }
  ~KernelSide() { close(fd); }
  void send(const std::vector<uint8_t>& f) {
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = ifindex;
    sll.sll_halen = 6;
    REQUIRE(sendto(fd, f.data(), f.size(), 0, reinterpret_cast<sockaddr*>(&sll), sizeof sll) ==
            static_cast<ssize_t>(f.size()));
  }
  // The next frame that came in from the switch (not one the kernel sent), or empty.
  std::vector<uint8_t> receive(int timeout_ms) {
    std::vector<uint8_t> buf(65536);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      sockaddr_ll from{};
      socklen_t fl = sizeof from;
      ssize_t n = recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n > 0 && from.sll_pkttype != PACKET_OUTGOING) return {buf.begin(), buf.begin() + n};
    }
    return {};
  }
};

// Polls the port until a frame of the test ethertype arrives (others, e.g.
// IPv6 router solicitations from the fresh tap, are freed).
rte_mbuf* receive_test_frame(TapNetdev& port, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    rte_mbuf* got[32];
    uint16_t n = port.rx_burst(0, got, 32);
    rte_mbuf* hit = nullptr;
    for (uint16_t i = 0; i < n; i++) {
      uint8_t et[2];
      const uint8_t* p = static_cast<const uint8_t*>(rte_pktmbuf_read(got[i], 12, 2, et));
      if (!hit && p && p[0] == (kTestEtherType >> 8) && p[1] == (kTestEtherType & 0xff)) hit = got[i];
      else rte_pktmbuf_free(got[i]);
    }
    if (hit) return hit;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return nullptr;
}

std::vector<uint8_t> bytes_of(const rte_mbuf* m) {
  std::vector<uint8_t> out(rte_pktmbuf_pkt_len(m));
  const void* p = rte_pktmbuf_read(m, 0, static_cast<uint32_t>(out.size()), out.data());
  if (p != out.data()) std::memcpy(out.data(), p, out.size());
  return out;
}

}  // namespace

TEST_CASE("TapNetdev: a kernel tap named after the port, frames both ways, MTU, removal",
          "[netdev][eal][tap]") {
  if (!can_make_taps()) {
    WARN("skipped: needs root and /dev/net/tun");
    return;
  }
  dps::test::ensure_eal();
  MbufPool pool("tap_pool1", 4096, SOCKET_ID_ANY);
  PortConfig cfg;
  cfg.name = tap_name("a");
  cfg.type = "internal";
  std::string name = cfg.name;
  {
    std::unique_ptr<TapNetdev> port = TapNetdev::open(cfg, pool.get());
    auto st = kernel_if_state(name);
    REQUIRE(st);
    CHECK(st->up);
    CHECK(st->mtu == 1500);
    NetdevInfo info = port->info();
    CHECK(info.driver_name == "tap");
    CHECK(info.kernel_name == name);
    CHECK(info.ifindex == st->ifindex);
    REQUIRE(info.hw_addr);
    CHECK(*info.hw_addr == st->mac);
    CHECK(info.mtu == 1500);
    CHECK(port->link_up());
    CHECK(port->n_rxq() == 1);

    KernelSide k(st->ifindex);
    // switch -> kernel
    std::vector<uint8_t> out = test_frame(100, 0x5a);
    rte_mbuf* m = dps::test::make_mbuf(out);
    REQUIRE(port->tx_burst(0, &m, 1) == 1);
    CHECK(k.receive(2000) == out);
    // kernel -> switch
    std::vector<uint8_t> in = test_frame(200, 0xa5);
    k.send(in);
    rte_mbuf* got = receive_test_frame(*port, 2000);
    REQUIRE(got);
    CHECK(bytes_of(got) == in);
    rte_pktmbuf_free(got);

    // MTU in place; a jumbo frame from the kernel arrives as an mbuf chain.
    CHECK(port->set_mtu(9000) == "");
    CHECK(kernel_if_state(name)->mtu == 9000);
    CHECK(port->info().mtu == 9000);
    std::vector<uint8_t> jumbo = test_frame(8000, 0x3c);
    jumbo[7999] = 0x77;
    k.send(jumbo);
    got = receive_test_frame(*port, 2000);
    REQUIRE(got);
    CHECK(got->nb_segs > 1);
    CHECK(bytes_of(got) == jumbo);
    // ... and goes back to the kernel whole (writev of the chain).
    REQUIRE(port->tx_burst(0, &got, 1) == 1);
    CHECK(k.receive(2000) == jumbo);

    // The I/O thread counts a frame after writev() returns, which may be
    // after the kernel side has read it.
    PortStats s = port->stats();
    for (int i = 0; i < 200 && s.tx_packets < 2; i++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      s = port->stats();
    }
    CHECK(s.tx_packets == 2);
    CHECK(s.tx_bytes == 8100);
    CHECK(s.rx_packets >= 2);
    port->clear_stats();
    CHECK(port->stats().tx_packets == 0);

    // An administratively down port sends nothing and counts it.
    port->set_admin_up(false);
    m = dps::test::make_mbuf(out);
    CHECK(port->tx_burst(0, &m, 1) == 0);
    CHECK(port->stats().tx_dropped == 1);
    port->set_admin_up(true);

    // Addresses the host puts on it are visible.
    REQUIRE(std::system(("ip addr add 192.0.2.1/24 dev " + name).c_str()) == 0);
    std::vector<KernelIfAddr> addrs = kernel_if_addrs(name);
    KernelIfAddr want;
    want.addr[0] = 192, want.addr[1] = 0, want.addr[2] = 2, want.addr[3] = 1;
    want.prefix_len = 24;
    CHECK(std::find(addrs.begin(), addrs.end(), want) != addrs.end());
  }
  // Closed: the device is gone and every mbuf is back.
  CHECK_FALSE(kernel_if_state(name));
  CHECK(pool.in_use() == 0);
}

TEST_CASE("TapNetdev: names that cannot be a tap are refused with the reason", "[netdev][eal][tap]") {
  if (!can_make_taps()) {
    WARN("skipped: needs root and /dev/net/tun");
    return;
  }
  dps::test::ensure_eal();
  PortConfig cfg;
  cfg.type = "internal";
  cfg.name = "lo";
  CHECK_THROWS_WITH(TapNetdev::open(cfg, dps::test::test_pool()),
                    "internal port lo: a kernel interface named lo already exists");
  cfg.name = "a-very-long-name-x";
  CHECK_THROWS_WITH(TapNetdev::open(cfg, dps::test::test_pool()),
                    "internal port a-very-long-name-x: 'a-very-long-name-x' is longer than 15 characters "
                    "(a kernel interface name)");
  cfg.name = "bad/name";
  CHECK_THROWS_WITH(TapNetdev::open(cfg, dps::test::test_pool()),
                    Catch::Contains("contains a character a kernel interface name cannot have"));
  // Two taps at once share the one TapIo thread; each closes on its own.
  cfg.name = tap_name("b");
  auto one = TapNetdev::open(cfg, dps::test::test_pool());
  cfg.name = tap_name("c");
  auto two = TapNetdev::open(cfg, dps::test::test_pool());
  one.reset();
  CHECK_FALSE(kernel_if_state(tap_name("b")));
  CHECK(kernel_if_state(tap_name("c")));
  two.reset();
  CHECK_FALSE(kernel_if_state(tap_name("c")));
}

// Not run by default (hidden tag): what one poll of an idle tap port costs
// a PMD, three ways. `netdev_test "[tap-bench]"` prints ns per call;
// docs/performance.md ("Internal ports") has the figures.
TEST_CASE("tap idle poll cost: TapNetdev vs net_tap vs a raw read(2)", "[.][tap-bench]") {
  if (!can_make_taps()) {
    WARN("skipped: needs root and /dev/net/tun");
    return;
  }
  dps::test::ensure_eal();
  constexpr int kCalls = 2'000'000;
  auto per_call_ns = [](auto&& fn) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kCalls; i++) fn();
    return std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / kCalls;
  };
  rte_mbuf* pkts[32];
  PortConfig cfg;
  cfg.type = "internal";
  cfg.name = tap_name("p");
  auto mine = TapNetdev::open(cfg, dps::test::test_pool());
  double ring_ns = per_call_ns([&] { mine->rx_burst(0, pkts, 32); });
  mine.reset();

  std::string error;
  int fd = create_tap(tap_name("r"), &error);
  REQUIRE(fd >= 0);
  set_kernel_if_up(tap_name("r"), true);
  uint8_t buf[2048];
  double read_ns = per_call_ns([&] { [[maybe_unused]] ssize_t r = read(fd, buf, sizeof buf); });
  close(fd);

  PortConfig nt;
  nt.name = "nt";
  nt.n_txq = 1;  // net_tap wants as many tx queues as rx queues
  nt.devargs = "net_tap_bench" + std::to_string(getpid() % 1000) + ",iface=" + tap_name("n");
  std::unique_ptr<DpdkNetdev> dpdk_tap = DpdkNetdev::open(nt, dps::test::test_pool(), 1);
  double net_tap_ns = per_call_ns([&] { dpdk_tap->rx_burst(0, pkts, 32); });
  dpdk_tap.reset();
  std::printf("idle rx_burst: TapNetdev (ring) %.1f ns, net_tap %.1f ns, raw tap read(2) EAGAIN %.1f ns\n",
              ring_ns, net_tap_ns, read_ns);
  CHECK(ring_ns < read_ns);
}
