#include "http_request.h"

namespace dps::exporter {

std::string_view HttpRequest::path() const {
  std::string_view t = target;
  return t.substr(0, t.find('?'));
}

HttpParse parse_http_request(std::string_view in, HttpRequest* out, std::string* error, size_t max_bytes) {
  size_t end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) end = in.find("\n\n");
  if (end == std::string_view::npos) return in.size() > max_bytes ? HttpParse::kTooLarge : HttpParse::kIncomplete;
  if (end > max_bytes) return HttpParse::kTooLarge;
  std::string_view line = in.substr(0, in.find('\n'));
  if (line.ends_with('\r')) line.remove_suffix(1);
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    *error = "request line is not METHOD TARGET VERSION";
    return HttpParse::kBad;
  }
  out->method = line.substr(0, sp1);
  out->target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  out->version = line.substr(sp2 + 1);
  if (out->method.empty() || out->target.empty() || out->target[0] != '/') {
    *error = "request target must start with '/'";
    return HttpParse::kBad;
  }
  if (out->version != "HTTP/1.0" && out->version != "HTTP/1.1") {
    *error = "unsupported version \"" + out->version + "\"";
    return HttpParse::kBad;
  }
  return HttpParse::kOk;
}

std::string_view http_reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default: return "Internal Server Error";
  }
}

std::string http_response(int status, std::string_view content_type, std::string_view body, bool head_only,
                          std::string_view extra_headers) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + std::string(http_reason(status)) + "\r\n";
  r += "Content-Type: " + std::string(content_type) + "\r\n";
  r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  r += extra_headers;
  r += "Connection: close\r\n\r\n";
  if (!head_only) r += body;
  return r;
}

}  // namespace dps::exporter
