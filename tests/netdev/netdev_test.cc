// netdev tests: the packet batch, ring ports, DPDK ethdev ports created at run
// time from devargs (net_null / net_ring vdevs, hot-plugged), tx queue
// sharing, precise errors for bad devargs, and mbufs returning to the pool
// when a port is closed.
#include <catch2/catch.hpp>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dpdk_netdev.h"
#include "mbuf_pool.h"
#include "netdev_registry.h"
#include "packet_batch.h"
#include "ring_netdev.h"
#include "test_eal.h"

using namespace dps::netdev;

namespace {

PortConfig vdev_port(const char* name, const char* devargs) {
  PortConfig cfg;
  cfg.name = name;
  cfg.devargs = devargs;
  return cfg;
}

}  // namespace

TEST_CASE("PacketBatch is a POD of at most one burst", "[netdev]") {
  PacketBatch b;
  b.clear();
  CHECK(b.empty());
  for (unsigned i = 0; i < kMaxBurst; i++) b.add(reinterpret_cast<rte_mbuf*>(uintptr_t(i + 1)));
  CHECK(b.full());
  CHECK(b.pkts[31] == reinterpret_cast<rte_mbuf*>(uintptr_t(32)));
  b.clear();
  CHECK(b.count == 0);
}

TEST_CASE("RingNetdev passes packets between its rings and counts them", "[netdev][eal]") {
  dps::test::ensure_eal();
  RingNetdev port("rt0", 64);
  rte_mbuf* in[3];
  for (auto& m : in) m = dps::test::make_mbuf(std::vector<uint8_t>(60, 0xab));
  REQUIRE(port.inject(in, 3) == 3);
  rte_mbuf* got[8];
  REQUIRE(port.rx_burst(0, got, 8) == 3);
  CHECK(port.stats().rx_packets == 3);
  CHECK(port.stats().rx_bytes == 180);
  REQUIRE(port.tx_burst(0, got, 3) == 3);
  CHECK(port.stats().tx_packets == 3);
  rte_mbuf* out[8];
  REQUIRE(port.collect(out, 8) == 3);
  rte_pktmbuf_free_bulk(out, 3);

  SECTION("an administratively down port sends nothing and counts drops") {
    port.set_admin_up(false);
    rte_mbuf* m = dps::test::make_mbuf(std::vector<uint8_t>(60, 1));
    CHECK(port.tx_burst(0, &m, 1) == 0);
    CHECK(port.stats().tx_dropped == 1);
  }
}

TEST_CASE("DpdkNetdev opens a vdev from devargs, shares tx queues when short, and hot-unplugs",
          "[netdev][eal]") {
  dps::test::ensure_eal();
  MbufPool pool("nd_pool1", 8192, SOCKET_ID_ANY);
  PortConfig cfg = vdev_port("null-a", "net_null7,size=64");
  cfg.rx_desc = 256;
  cfg.tx_desc = 256;

  SECTION("one tx queue per slot when the device has enough") {
    auto port = DpdkNetdev::open(cfg, pool.get(), 2);
    CHECK(port->n_txq() == 3);  // two PMDs + the control slot
    CHECK(port->txq_of_slot(0) != port->txq_of_slot(1));
    CHECK_FALSE(port->txq_shared(port->txq_of_slot(0)));
    rte_mbuf* pkts[32];
    uint16_t n = port->rx_burst(0, pkts, 32);
    CHECK(n == 32);  // net_null generates packets
    CHECK(port->tx_burst(1, pkts, n) == n);
    CHECK(port->stats().tx_packets == n);
    uint16_t id = port->port_id();
    port.reset();
    CHECK_FALSE(rte_eth_dev_is_valid_port(id));  // hot-unplugged
    CHECK(pool.in_use() == 0);
  }
  SECTION("queues are shared (and locked) when the device offers fewer than slots") {
    cfg.n_txq = 1;
    auto port = DpdkNetdev::open(cfg, pool.get(), 2);
    CHECK(port->n_txq() == 1);
    CHECK(port->txq_shared(0));
    CHECK(port->txq_of_slot(0) == port->txq_of_slot(1));
  }
}

TEST_CASE("bad devargs give an error naming the port, the devargs and DPDK's reason",
          "[netdev][eal]") {
  dps::test::ensure_eal();
  MbufPool pool("nd_pool2", 4096, SOCKET_ID_ANY);
  PortConfig cfg = vdev_port("broken", "net_doesnotexist0,foo=1");
  try {
    DpdkNetdev::open(cfg, pool.get(), 1);
    FAIL("open succeeded");
  } catch (const NetdevError& e) {
    std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("port broken"));
    CHECK_THAT(msg, Catch::Contains("net_doesnotexist0,foo=1"));
    CHECK_THAT(msg, Catch::Contains("probe failed"));
  }
  cfg.devargs = "";
  CHECK_THROWS_WITH(DpdkNetdev::open(cfg, pool.get(), 1), Catch::Contains("no devargs"));
}

TEST_CASE("the registry creates ports by type and rejects unknown types", "[netdev][eal]") {
  dps::test::ensure_eal();
  PortConfig cfg;
  cfg.name = "r1";
  cfg.type = "ring";
  auto p = NetdevRegistry::instance().create(cfg, nullptr, 1);
  CHECK(p->type() == "ring");
  cfg.type = "bogus";
  CHECK_THROWS_WITH(NetdevRegistry::instance().create(cfg, nullptr, 1),
                    Catch::Contains("unknown port type 'bogus'") && Catch::Contains("dpdk"));
}
