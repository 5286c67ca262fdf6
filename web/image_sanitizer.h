#pragma once
// Image sanitizer: recognises a citizen's photo by its content (magic bytes, never a name or a
// declared type), walks its container structure, and rewrites it without metadata. No pixel is
// decoded: the server has no image codec in its dependency set, so huge images are downscaled by
// the browser before upload (web/ui/src/js/report.js) and refused here above a pixel limit read
// from the headers.
//
//   JPEG  segments are walked from SOI to EOI (entropy-coded data skipped by its markers);
//         kept: APP0 (JFIF/JFXX), APP2 "ICC_PROFILE" (colours), APP14 "Adobe" (needed to
//         decode CMYK/YCCK), DQT, DHT, SOFn, SOS + scan data, DRI, RSTn, DNL, DAC;
//         dropped: APP1 (EXIF, XMP), every other APPn (APP13 IPTC/Photoshop, MPF, ...), COM,
//         and anything after EOI.
//   PNG   chunks are walked from the signature to IEND, every CRC checked; dropped: tEXt, zTXt,
//         iTXt, eXIf, tIME (whole chunks, so the CRCs of the rest stay intact) and anything
//         after IEND. An unknown critical chunk is refused.
//   WebP  RIFF chunks are walked (sizes, padding); dropped: EXIF and "XMP "; the VP8X flags of
//         the dropped chunks are cleared and the RIFF size rewritten.
// Pixel size: JPEG SOFn, PNG IHDR, WebP VP8X canvas (else the VP8/VP8L frame header).
//
// Thread safety: pure functions.

#include <cstdint>
#include <string>
#include <string_view>

namespace yiwang::web {

enum class ImageType : uint8_t { kUnknown = 0, kJpeg = 1, kPng = 2, kWebp = 3 };

// "image/jpeg", "image/png", "image/webp"; "" for kUnknown.
std::string_view ImageMimeType(ImageType type);
// The type of a declared Content-Type value (parameters ignored, case-insensitive); kUnknown
// for anything else.
ImageType ImageTypeFromMime(std::string_view content_type);
// The type by the first bytes of `bytes`; kUnknown if none of the three.
ImageType SniffImageType(std::string_view bytes);

enum class ImageError : uint8_t {
  kOk = 0,
  kUnsupported,  // not a JPEG, PNG or WebP by content             -> 415 unsupported_media_type
  kBadImage,     // truncated, corrupt or an unsupported variant   -> 400 bad_image
  kTooLarge,     // more pixels than allowed                        -> 400 image_too_large
};

// 40 megapixels: a 12,000 x 3,333 panorama; phones shoot at most ~50 MP, and the page
// downscales to 2560 px on the long side before upload.
constexpr uint64_t kDefaultMaxImagePixels = 40'000'000;

struct SanitizedImage {
  ImageType type = ImageType::kUnknown;
  uint32_t width = 0, height = 0;
  std::string bytes;          // the image without its metadata
  size_t dropped_bytes = 0;   // bytes of metadata (and trailing data) removed
};

// Sanitizes `in` into *out. On an error *why says what is wrong (for the error message) and
// *out is unspecified.
[[nodiscard]] ImageError SanitizeImage(std::string_view in, uint64_t max_pixels,
                                       SanitizedImage* out, std::string* why);

// CRC-32 (ISO 3309, as PNG uses it) of `data`.
uint32_t Crc32(std::string_view data, uint32_t crc = 0);

}  // namespace yiwang::web
