#include <catch2/catch.hpp>

#include "ct_helpers.h"

using namespace dps::conntrack;
using namespace dps::test;

namespace {


// A -> B segments and B -> A segments of one connection.
std::vector<uint8_t> ab(uint8_t flags, uint32_t seq, uint32_t ack, size_t len = 0) {
  return tcp4("10.0.0.1", "10.0.0.2", 40000, 80, flags, seq, ack, len);
}
std::vector<uint8_t> ba(uint8_t flags, uint32_t seq, uint32_t ack, size_t len = 0) {
  return tcp4("10.0.0.2", "10.0.0.1", 80, 40000, flags, seq, ack, len);
}

// SYN (seq 100), SYN+ACK (seq 5000), ACK: an established connection.
void handshake(CtRig& r) {
  REQUIRE(r.run(ab(kTcpSyn, 100, 0)) == kNewTrk);
  REQUIRE(r.run(ba(kTcpSyn | kTcpAck, 5000, 101)) == kEstRpl);
  REQUIRE(r.run(ab(kTcpAck, 101, 5001)) == kEstTrk);
}

std::string state_of(CtRig& r) {
  auto d = r.ct.dump();
  REQUIRE(d.size() == 1);
  return tcp_state_name(d[0].tcp_state);
}

}  // namespace

TEST_CASE("tcp: three-way handshake, data both ways, ESTABLISHED") {
  CtRig r;
  handshake(r);
  CHECK(state_of(r) == "ESTABLISHED");
  CHECK(r.run(ab(kTcpAck | kTcpPsh, 101, 5001, 100)) == kEstTrk);
  CHECK(r.run(ba(kTcpAck | kTcpPsh, 5001, 201, 300)) == kEstRpl);
  CHECK(r.run(ab(kTcpAck, 201, 5301)) == kEstTrk);
  CHECK(r.last.has_orig);
  CHECK(r.last.orig.sport == 40000);
  CHECK(r.ct.n_conns() == 1);
}

TEST_CASE("tcp: a retransmitted SYN stays +new; a SYN+ACK cannot start a connection") {
  CtRig r;
  CHECK(r.run(ab(kTcpSyn, 100, 0)) == kNewTrk);
  CHECK(r.run(ab(kTcpSyn, 100, 0)) == kNewTrk);
  CHECK(r.ct.n_conns() == 1);
  CHECK(r.run(tcp4("10.0.0.7", "10.0.0.8", 1, 2, kTcpSyn | kTcpAck, 1, 1)) == kInvTrk);
  CHECK(r.run(tcp4("10.0.0.7", "10.0.0.8", 1, 2, kTcpSyn | kTcpFin, 1, 0)) == kInvTrk);
  CHECK(r.run(tcp4("10.0.0.7", "10.0.0.8", 1, 2, kTcpFin, 1, 0)) == kInvTrk);
  CHECK(r.ct.n_conns() == 1);
}

TEST_CASE("tcp: data retransmitted within a window passes, data beyond the window is invalid") {
  CtRig r;
  handshake(r);
  CHECK(r.run(ab(kTcpAck, 101, 5001, 1000)) == kEstTrk);
  CHECK(r.run(ab(kTcpAck, 101, 5001, 1000)) == kEstTrk);  // retransmission
  // B advertised 8192 bytes: a segment 1 MB ahead is out of window.
  CHECK(r.run(ab(kTcpAck, 101 + 1000000, 5001, 100)) == kInvTrk);
  // An ACK for data B never sent.
  CHECK(r.run(ab(kTcpAck, 1101, 5001 + 1000000)) == kInvTrk);
  CHECK(r.ct.stats().counters[kTcpInvalidWindow] == 2);
  CHECK(state_of(r) == "ESTABLISHED");  // the bad segments changed nothing
  CHECK(r.run(ab(kTcpAck, 1101, 5001, 10)) == kEstTrk);
}

TEST_CASE("tcp: liberal mode skips the window checks") {
  CtConfig cfg;
  cfg.tcp_liberal = true;
  CtRig r(cfg);
  handshake(r);
  CHECK(r.run(ab(kTcpAck, 101 + 1000000, 5001, 100)) == kEstTrk);
}

TEST_CASE("tcp: RST with the expected sequence closes, a blind RST is invalid") {
  CtRig r;
  handshake(r);
  CHECK(r.run(ba(kTcpRst, 9999999, 0)) == kInvTrk);
  CHECK(state_of(r) == "ESTABLISHED");
  CHECK(r.run(ba(kTcpRst | kTcpAck, 5001, 101)) == kEstRpl);
  CHECK(state_of(r) == "TIME_WAIT");
  // Closed: expires after OVS's tcp_closed (30 s), not 24 h.
  CHECK(r.ct.sweep(1000 + 29999, 1 << 20) == 0);
  CHECK(r.ct.sweep(1000 + 30000, 1 << 20) == 1);
  CHECK(r.ct.n_conns() == 0);
}

TEST_CASE("tcp: FIN handshake both ways, then a new SYN reuses the tuple") {
  CtRig r;
  handshake(r);
  CHECK(r.run(ab(kTcpFin | kTcpAck, 101, 5001)) == kEstTrk);
  CHECK(state_of(r) == "CLOSING");
  CHECK(r.run(ba(kTcpAck, 5001, 102)) == kEstRpl);
  CHECK(r.run(ba(kTcpFin | kTcpAck, 5001, 102)) == kEstRpl);
  CHECK(r.run(ab(kTcpAck, 102, 5002)) == kEstTrk);
  CHECK(state_of(r) == "TIME_WAIT");
  auto d = r.ct.dump();
  CHECK(d[0].expiration_ms == 1000 + CtTimeouts{}.tcp_closed);
  // A fresh SYN on the closed tuple: a new connection.
  CHECK(r.run(ab(kTcpSyn, 777777, 0), true, 0, 2000) == kNewTrk);
  CHECK(r.run(ba(kTcpSyn | kTcpAck, 3, 777778), true, 0, 2000) == kEstRpl);
  r.ct.sweep(2000, 1 << 20);  // the old one is gone, the new one stays
  CHECK(state_of(r) == "ESTABLISHED");
}

TEST_CASE("tcp: timeouts follow the state (opening 30 s, established 24 h)") {
  CtRig r;
  REQUIRE(r.run(ab(kTcpSyn, 100, 0)) == kNewTrk);
  CHECK(r.ct.dump()[0].expiration_ms == 1000 + 30000);
  REQUIRE(r.run(ba(kTcpSyn | kTcpAck, 5000, 101)) == kEstRpl);
  REQUIRE(r.run(ab(kTcpAck, 101, 5001)) == kEstTrk);
  CHECK(r.ct.dump()[0].expiration_ms == 1000 + 24LL * 3600 * 1000);
}

TEST_CASE("tcp: a connection picked up mid-stream is tracked") {
  CtRig r;
  CHECK(r.run(ab(kTcpAck, 5555, 7777, 100)) == kNewTrk);
  CHECK(r.run(ba(kTcpAck, 7777, 5655, 100)) == kEstRpl);
  CHECK(r.run(ab(kTcpAck, 5655, 7877, 100)) == kEstTrk);
}
