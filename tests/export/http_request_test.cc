#include <catch2/catch.hpp>

#include "http_request.h"

using namespace dps::exporter;

TEST_CASE("http: request line parsed once the header block is complete") {
  HttpRequest r;
  std::string err;
  CHECK(parse_http_request("GET /metrics HTTP/1.1\r\nHost: x\r\n", &r, &err) == HttpParse::kIncomplete);
  REQUIRE(parse_http_request("GET /metrics?name[]=a HTTP/1.1\r\nHost: x\r\n\r\n", &r, &err) == HttpParse::kOk);
  CHECK(r.method == "GET");
  CHECK(r.target == "/metrics?name[]=a");
  CHECK(r.path() == "/metrics");
  CHECK(r.version == "HTTP/1.1");
  REQUIRE(parse_http_request("HEAD / HTTP/1.0\n\n", &r, &err) == HttpParse::kOk);
  CHECK(r.method == "HEAD");
  CHECK(r.path() == "/");
}

TEST_CASE("http: bad and oversized requests") {
  HttpRequest r;
  std::string err;
  CHECK(parse_http_request("GET /metrics\r\n\r\n", &r, &err) == HttpParse::kBad);
  CHECK(err == "request line is not METHOD TARGET VERSION");
  CHECK(parse_http_request("GET metrics HTTP/1.1\r\n\r\n", &r, &err) == HttpParse::kBad);
  CHECK(err == "request target must start with '/'");
  CHECK(parse_http_request("GET / HTTP/2\r\n\r\n", &r, &err) == HttpParse::kBad);
  CHECK(err == "unsupported version \"HTTP/2\"");
  CHECK(parse_http_request("GET / HTTP/1.1 x\r\n\r\n", &r, &err) == HttpParse::kBad);
  std::string big = "GET / HTTP/1.1\r\nX: " + std::string(9000, 'a');
  CHECK(parse_http_request(big, &r, &err) == HttpParse::kTooLarge);
  CHECK(parse_http_request(big + "\r\n\r\n", &r, &err) == HttpParse::kTooLarge);
}

TEST_CASE("http: responses") {
  CHECK(http_response(200, "text/plain", "abc") ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
  CHECK(http_response(405, "text/plain", "no\n", true, "Allow: GET, HEAD\r\n") ==
        "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
        "Allow: GET, HEAD\r\nConnection: close\r\n\r\n");
  CHECK(http_reason(431) == "Request Header Fields Too Large");
}
