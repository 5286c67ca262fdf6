#include "web/static_files.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <fstream>
#include <iterator>

#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "base/text.h"
#include "web/http_util.h"

namespace yiwang::web {

namespace http = boost::beast::http;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kStaticPrefix = "/static/";

struct MimeEntry {
  std::string_view ext;
  std::string_view type;
};
constexpr std::array kMimeTable{
    MimeEntry{".html", "text/html; charset=utf-8"},
    MimeEntry{".js", "text/javascript; charset=utf-8"},
    MimeEntry{".mjs", "text/javascript; charset=utf-8"},
    MimeEntry{".css", "text/css; charset=utf-8"},
    MimeEntry{".json", "application/json"},
    MimeEntry{".geojson", "application/geo+json"},
    MimeEntry{".map", "application/json"},
    MimeEntry{".txt", "text/plain; charset=utf-8"},
    MimeEntry{".svg", "image/svg+xml"},
    MimeEntry{".png", "image/png"},
    MimeEntry{".jpg", "image/jpeg"},
    MimeEntry{".jpeg", "image/jpeg"},
    MimeEntry{".webp", "image/webp"},
    MimeEntry{".gif", "image/gif"},
    MimeEntry{".ico", "image/x-icon"},
    MimeEntry{".woff2", "font/woff2"},
    MimeEntry{".webmanifest", "application/manifest+json"},
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// Whether `path` is `root` or lies below it. Both must be canonical (no ".", "..", symlinks).
bool IsWithin(const fs::path& path, const fs::path& root) {
  auto [r, p] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  return r == root.end();
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

std::optional<fs::path> SafeRelativePath(std::string_view decoded, std::string* why) {
  if (decoded.empty()) {
    *why = "empty file path";
    return std::nullopt;
  }
  if (decoded.front() == '/') {
    *why = "absolute paths are not served";
    return std::nullopt;
  }
  for (unsigned char c : decoded) {
    if (c < 0x20 || c == 0x7f) {
      *why = "control characters in the path";
      return std::nullopt;
    }
    if (c == '\\') {
      *why = "backslashes in the path";
      return std::nullopt;
    }
  }
  fs::path out;
  std::string_view rest = decoded;
  while (true) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg.empty()) {
      *why = "empty path segment";
      return std::nullopt;
    }
    if (seg == "." || seg == "..") {
      *why = "'.' and '..' segments are not allowed";
      return std::nullopt;
    }
    if (seg.front() == '.') {
      *why = "hidden files are not served";
      return std::nullopt;
    }
    out /= fs::path(std::string(seg));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return out;
}

std::string_view MimeType(std::string_view file_name) {
  const std::string lower = Lower(file_name);
  for (const auto& e : kMimeTable)
    if (lower.size() > e.ext.size() && lower.ends_with(e.ext)) return e.type;
  return "application/octet-stream";
}

bool IfNoneMatchHits(std::string_view header, std::string_view etag) {
  auto opaque = [](std::string_view tag) {
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    return tag;
  };
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string tag = Trim(header.substr(0, comma));
    if (tag == "*" || (!tag.empty() && opaque(tag) == opaque(etag))) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

bool IsCspOrigin(std::string_view origin) {
  std::string_view rest;
  if (origin.starts_with("https://")) {
    rest = origin.substr(8);
  } else if (origin.starts_with("http://")) {
    rest = origin.substr(7);
  } else {
    return false;
  }
  if (rest.starts_with("*.")) rest.remove_prefix(2);
  if (rest.empty()) return false;
  for (char c : rest) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '-' || c == ':';
    if (!ok) return false;  // no path, query, spaces or ';' that would end the directive
  }
  return true;
}

StaticFiles::StaticFiles(StaticOptions options) : options_(std::move(options)) {
  std::string img_src = "'self' data: blob:";
  for (const auto& o : options_.img_origins)
    if (IsCspOrigin(o)) img_src += " " + o;
  // No 'unsafe-inline' anywhere: the pages load every script and style from files.
  csp_ = fmt::format(
      "default-src 'self'; img-src {}; style-src 'self'; script-src 'self'; "
      "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; "
      "form-action 'self'; object-src 'none'",
      img_src);
}

void StaticFiles::SetSecurityHeaders(HttpResponse& res) const {
  res.set("Content-Security-Policy", csp_);
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "same-origin");
  res.set("X-Frame-Options", "DENY");
}

HttpResponse StaticFiles::Error(const HttpRequest& req, unsigned status, std::string_view code,
                                std::string_view message) const {
  HttpResponse res{static_cast<http::status>(status), req.version()};
  res.set(http::field::server, "yiwang");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  SetSecurityHeaders(res);
  res.keep_alive(req.keep_alive());
  res.body() = JsonErrorBody(code, message);
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();  // Content-Length stays
  return res;
}

std::optional<HttpResponse> StaticFiles::Handle(const HttpRequest& req) const {
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));

  std::string_view file;
  if (path == "/") {
    file = "index.html";
  } else if (path == "/report") {
    file = "report.html";
  } else if (path == "/track" || (path.starts_with("/track/") && path.size() > 7 &&
                                  path.find('/', 7) == std::string_view::npos)) {
    file = "track.html";  // the page reads the code from its own URL
  } else if (!path.starts_with(kStaticPrefix)) {
    return std::nullopt;
  }

  if (req.method() != http::verb::get && req.method() != http::verb::head) {
    HttpResponse res = Error(req, 405, "method_not_allowed", "use GET, HEAD");
    res.set(http::field::allow, "GET, HEAD");
    return res;
  }
  if (!file.empty()) return ServeFile(req, file);

  auto decoded = PercentDecodePath(path.substr(kStaticPrefix.size()));
  if (!decoded) return Error(req, 400, "bad_path_encoding", "bad percent-encoding in the path");
  return ServeFile(req, *decoded);
}

HttpResponse StaticFiles::ServeFile(const HttpRequest& req, std::string_view relative) const {
  std::string why;
  auto rel = SafeRelativePath(relative, &why);
  if (!rel) return Error(req, 400, "bad_path", why);

  std::error_code ec;
  const fs::path root = fs::canonical(options_.root, ec);
  if (ec || !fs::is_directory(root)) {
    return Error(req, 404, "ui_not_installed",
                 "the web pages are not installed on this server (build the yiwang_web_ui "
                 "target; static root: " +
                     options_.root.string() + ")");
  }
  // canonical() resolves every symlink: what is served must really live under the root.
  const fs::path full = fs::canonical(root / *rel, ec);
  if (ec) return Error(req, 404, "file_not_found", "no such file");
  if (!IsWithin(full, root))
    return Error(req, 403, "forbidden_path", "the path leads outside the static root");

  struct stat st {};
  if (::stat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return Error(req, 404, "file_not_found", "no such file");
  if (static_cast<uintmax_t>(st.st_size) > kMaxStaticFileBytes)
    return Error(req, 500, "file_too_large", "the file is too large to serve");

  // A strong validator without reading the file: size and modification time in nanoseconds.
  const std::string etag = fmt::format("\"{:x}-{:x}{:09x}\"", static_cast<uintmax_t>(st.st_size),
                                       static_cast<uint64_t>(st.st_mtim.tv_sec),
                                       static_cast<uint64_t>(st.st_mtim.tv_nsec));

  HttpResponse res{http::status::ok, req.version()};
  res.set(http::field::server, "yiwang");
  res.set(http::field::etag, etag);
  res.set(http::field::cache_control, "no-cache");
  SetSecurityHeaders(res);
  res.keep_alive(req.keep_alive());

  if (auto inm = req[http::field::if_none_match]; !inm.empty() && IfNoneMatchHits(inm, etag)) {
    res.result(http::status::not_modified);
    res.prepare_payload();
    return res;
  }

  res.set(http::field::content_type, MimeType(full.filename().string()));
  std::ifstream in(full, std::ios::binary);
  if (!in) return Error(req, 500, "read_failed", "could not open the file");
  std::string body{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) return Error(req, 500, "read_failed", "could not read the file");
  res.body() = std::move(body);
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();  // Content-Length stays
  return res;
}

}  // namespace yiwang::web
