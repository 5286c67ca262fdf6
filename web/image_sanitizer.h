#pragma once
// Image sanitizer: recognises a citizen's photo by its content (magic bytes, never a name or a
// declared type), walks its container structure, and rewrites it without metadata. No pixel is
// decoded: the server has no image codec in its dependency set, so huge images are downscaled by
// the browser before upload (web/ui/src/js/report.js) and refused here above a pixel limit read
// from the headers.
//
// Only an allow-list of the container's parts is kept, what a decoder needs to show the pixels,
// and the parts with fields of their own are written afresh from those fields, so that no
// byte of metadata (EXIF, GPS, XMP, IPTC, comments, thumbnails, ICC profiles, private chunks)
// survives, whatever it hides in:
//   JPEG  segments are walked from SOI to EOI (entropy-coded data skipped by its markers);
//         kept: SOFn, DHT, DAC, DQT, DRI (each of the size its fields give), SOS + scan data;
//         rebuilt: APP0 JFIF (density only, no thumbnail; right after SOI) and APP14 Adobe
//         (the colour transform decoders need for RGB and CMYK); dropped: every other APPn
//         (EXIF, XMP, ICC, IPTC, JFXX thumbnails, ...), COM, other markers, anything after EOI.
//   PNG   chunks are walked from the signature to IEND, every CRC checked; kept: IHDR, PLTE,
//         IDAT, IEND and the ancillary tRNS, gAMA, cHRM, sRGB, sBIT, bKGD, pHYs, cICP within
//         their sizes (whole chunks, so the CRCs stay intact); dropped: every other chunk
//         (text, eXIf, tIME, iCCP, sPLT, animation, private). An unknown critical chunk is
//         refused.
//   WebP  RIFF chunks are walked (sizes, padding); kept, each written afresh: VP8X (flags down
//         to alpha and animation), ANIM, ANMF (its header, ALPH and bitstream only), ALPH, VP8,
//         VP8L; dropped: ICCP, EXIF, "XMP " and every other chunk; the RIFF size rewritten.
// Colour profiles go with the rest (a profile holds text: its description, copyright, any
// tag): a wide-gamut photo shows a little duller, in sRGB, as the page's canvas re-encoding of
// large photos already does.
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
