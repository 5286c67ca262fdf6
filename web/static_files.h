#pragma once
// StaticFiles: the web pages and their assets, served from a directory (the static root) as a
// plain function of the request, like Api (tests call Handle without sockets).
//
//   GET|HEAD /                 index.html   (operator console)
//   GET|HEAD /report           report.html  (citizen report form)
//   GET|HEAD /track            track.html   (tracking; /track/{code} too)
//   GET|HEAD /static/{path}    any file under the static root
//
// The root is built by the `yiwang_web_ui` CMake target into build/web/static (pages copied
// from web/ui/src, libraries from web/ui/node_modules, the district map converted at build time).
//
// Paths: `{path}` is percent-decoded once (a bad escape is 400 `bad_path_encoding`); a decoded
// path that is empty, absolute, or has an empty, ".", ".." or dot-file segment, a backslash or a
// control byte is 400 `bad_path`. The joined path is resolved (symlinks followed) and must stay
// inside the resolved root, else 403 `forbidden_path`. Missing files and directories are 404
// `file_not_found`; a missing root is 404 `ui_not_installed`.
//
// Every response carries the security headers (SecurityHeaders below) and
// `Cache-Control: no-cache` with a strong ETag from the file's size and mtime, so browsers
// revalidate and get `304 Not Modified` (no body) on `If-None-Match`. The file names carry no
// content hash (no bundler), hence revalidation rather than long max-age.
//
// Thread safety: Handle may be called from any thread concurrently (no mutable state).

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "web/http_server.h"

namespace yiwang::web {

// Files larger than this are refused (500 `file_too_large`): the root holds pages and
// libraries of at most a few MB, read whole into the response.
constexpr uintmax_t kMaxStaticFileBytes = 32u << 20;

struct StaticOptions {
  // The directory served. Default (in serve): <directory of the yiwang binary>/web/static.
  std::filesystem::path root;
  // Extra origins for the CSP's img-src, e.g. the tile server of the UI config
  // ("https://t0.tianditu.gov.cn"). Each must be a bare origin (scheme://host[:port]).
  std::vector<std::string> img_origins;
};

class StaticFiles {
 public:
  explicit StaticFiles(StaticOptions options);

  // The response for a page or static route, or nullopt if `req`'s path is none of the routes
  // above (the caller answers 404 for the API). Methods other than GET/HEAD get 405 with
  // `Allow: GET, HEAD`. Errors are {"error":{"code","message"}} JSON with the security headers.
  std::optional<HttpResponse> Handle(const HttpRequest& req) const;

  // The Content-Security-Policy sent with every page and file.
  const std::string& content_security_policy() const { return csp_; }
  const std::filesystem::path& root() const { return options_.root; }

 private:
  HttpResponse ServeFile(const HttpRequest& req, std::string_view relative) const;
  HttpResponse Error(const HttpRequest& req, unsigned status, std::string_view code,
                     std::string_view message) const;
  void SetSecurityHeaders(HttpResponse& res) const;

  StaticOptions options_;
  std::string csp_;
};

// Checks and normalises a decoded relative path: nullopt (with `why` set) if it is empty,
// absolute, or has an empty, ".", ".." or dot-file segment, a backslash or a control byte.
std::optional<std::filesystem::path> SafeRelativePath(std::string_view decoded, std::string* why);

// The Content-Type for a file name, by extension (lower-cased); application/octet-stream when
// unknown. Text types carry "; charset=utf-8".
std::string_view MimeType(std::string_view file_name);

// Whether an If-None-Match header value ("*", or a list of possibly weak entity tags) matches
// `etag` (weak comparison, RFC 9110 section 13.1.2).
bool IfNoneMatchHits(std::string_view if_none_match, std::string_view etag);

// A bare origin (scheme://host[:port], scheme http or https) fit for a CSP source list.
bool IsCspOrigin(std::string_view origin);

}  // namespace yiwang::web
