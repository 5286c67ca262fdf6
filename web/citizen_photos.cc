// Citizens' photos: POST /api/v1/photos (sniffed by content, metadata stripped by
// web/image_sanitizer.h, stored in the blobs table under a random id) and
// GET /api/v1/photos/{id}. web/citizen_api.h lists the routes; docs/api.md the codes.

#include <boost/beast/http/field.hpp>
#include <fmt/format.h>

#include "web/citizen_api.h"
#include "web/http_util.h"
#include "web/tables.h"
#include "web/tokens.h"

namespace yiwang::web {

namespace http = boost::beast::http;

namespace {

constexpr size_t kPhotoIdBytes = 16;  // 128 random bits -> 22 base64url characters

}  // namespace

std::string PhotoKey(std::string_view id) { return "photo/" + std::string(id); }

bool IsPhotoId(std::string_view id) {
  if (id.size() != 22) return false;
  for (char c : id)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  return true;
}

HttpResponse CitizenApi::UploadPhoto(const HttpRequest& req) {
  if (req.body().size() > limits_.max_photo_bytes)
    return Error(req, 413, "photo_too_large",
                 fmt::format("a photo may have at most {} bytes", limits_.max_photo_bytes));
  if (req.body().empty()) return Error(req, 400, "empty_body", "send the photo as the body");
  // The declared type must be one of the three (or say nothing specific); the content decides
  // which: phones and file pickers mislabel images, so a .jpg that is a PNG is stored as a PNG.
  const std::string_view declared = req[http::field::content_type];
  const bool generic = declared.empty() || declared.starts_with("application/octet-stream");
  if (!generic && ImageTypeFromMime(declared) == ImageType::kUnknown)
    return Error(req, 415, "unsupported_media_type",
                 "photos must be JPEG, PNG or WebP (declared " + std::string(declared) + ")");
  if (auto limited = Throttle(req, photo_limiter_, "photos")) return std::move(*limited);

  SanitizedImage image;
  std::string why;
  switch (SanitizeImage(req.body(), limits_.max_photo_pixels, &image, &why)) {
    case ImageError::kOk: break;
    case ImageError::kUnsupported: return Error(req, 415, "unsupported_media_type", why);
    case ImageError::kBadImage: return Error(req, 400, "bad_image", why);
    case ImageError::kTooLarge: return Error(req, 400, "image_too_large", why);
  }
  std::string id;
  if (!RandomBase64Url(kPhotoIdBytes, &id))
    return Error(req, 500, "internal", "the random generator failed");
  store::WriteSet ws;
  std::string value;
  value.reserve(image.bytes.size() + 1);
  value.push_back(static_cast<char>(image.type));
  value += image.bytes;
  ws.Put(tables::kBlobs, PhotoKey(id), std::move(value));
  Status s = store_->Write(ws);
  if (s.code() == Status::Code::kNoSpace)
    return Error(req, 507, "storage_full", "disk full: the photo was not stored");
  if (!s.ok()) return Error(req, 503, "unavailable", "the photo was not stored: " + s.ToString());
  log_->debug("photo {} stored: {} {}x{}, {} bytes ({} metadata bytes dropped)", id,
              ImageMimeType(image.type), image.width, image.height, image.bytes.size(),
              image.dropped_bytes);
  metrics_->GetCounter("yiwang_photos_stored_total", "Citizen photos stored").Inc();
  return MakeResponse(req, 201,
                      fmt::format(R"({{"photoId":{},"type":{},"width":{},"height":{},"bytes":{}}})",
                                  JsonEscape(id), JsonEscape(ImageMimeType(image.type)),
                                  image.width, image.height, image.bytes.size()));
}

bool CitizenApi::PhotoExists(std::string_view id) const {
  if (!IsPhotoId(id)) return false;
  std::string v;
  return store_->Get(tables::kBlobs, PhotoKey(id), &v).ok();
}

HttpResponse CitizenApi::GetPhoto(const HttpRequest& req, std::string_view id) {
  if (!IsPhotoId(id)) return Error(req, 404, "unknown_photo", "no photo has this id");
  std::string v;
  Status s = store_->Get(tables::kBlobs, PhotoKey(id), &v);
  if (s.code() == Status::Code::kNotFound)
    return Error(req, 404, "unknown_photo", "no photo has this id");
  if (!s.ok()) return Error(req, 503, "unavailable", s.ToString());
  const auto type = v.empty() ? ImageType::kUnknown : static_cast<ImageType>(v[0]);
  if (ImageMimeType(type).empty()) return Error(req, 500, "internal", "corrupt photo record");
  const std::string etag = "\"" + std::string(id) + "\"";
  if (req[http::field::if_none_match] == etag) {
    HttpResponse res = MakeResponse(req, 304, "", ImageMimeType(type));
    res.result(http::status::not_modified);
    res.set(http::field::etag, etag);
    res.set(http::field::cache_control, "public, max-age=31536000, immutable");
    return res;
  }
  HttpResponse res = MakeResponse(req, 200, v.substr(1), ImageMimeType(type));
  // A photo never changes (a new upload gets a new id); it is never a document of ours.
  res.set(http::field::cache_control, "public, max-age=31536000, immutable");
  res.set(http::field::etag, etag);
  res.set("Content-Security-Policy", "default-src 'none'; sandbox");
  res.set("Cross-Origin-Resource-Policy", "same-origin");
  return res;
}

}  // namespace yiwang::web
