// http_request.h - the small piece of HTTP/1.x a scrape endpoint needs.
//
// What: parse_http_request() finds the end of a request's header block in
//   the bytes received so far and reads its request line (method, target,
//   version); http_response() builds a complete response with
//   Content-Type, Content-Length and "Connection: close" (one request per
//   connection, as Prometheus scrapes do not need keep-alive).
// Design: no body support (a scrape is GET or HEAD); header lines other
//   than the request line are not interpreted. A header block larger than
//   `max_bytes` is kTooLarge (answer 431), a malformed request line kBad
//   (400) with the reason in *error.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dps::exporter {

struct HttpRequest {
  std::string method;
  std::string target;   // as sent, e.g. "/metrics?x=1"
  std::string version;  // "HTTP/1.1"
  // The target's path without the query string.
  std::string_view path() const;
};

enum class HttpParse { kIncomplete, kOk, kBad, kTooLarge };

HttpParse parse_http_request(std::string_view received, HttpRequest* out, std::string* error,
                             size_t max_bytes = 8192);

// A full response; head_only leaves the body out (HEAD) but keeps its
// Content-Length. extra_headers: complete "Name: value\r\n" lines.
std::string http_response(int status, std::string_view content_type, std::string_view body,
                          bool head_only = false, std::string_view extra_headers = {});
std::string_view http_reason(int status);

}  // namespace dps::exporter
