// Image (fuzz_harness.h): the citizen upload path's sanitizer. The output's structure is walked
// here again, independently of web/image_sanitizer.cc, to find any part outside the allow-list
// (web/image_sanitizer.h) or a rebuilt part that is not in its fresh form.

#include <set>
#include <string>

#include "tests/fuzz/fuzz_harness.h"
#include "web/image_sanitizer.h"

namespace yiwang::fuzz {

namespace {

using web::ImageError;
using web::ImageType;

uint32_t Be16(std::string_view s, size_t i) {
  return static_cast<uint32_t>(static_cast<uint8_t>(s[i])) << 8 | static_cast<uint8_t>(s[i + 1]);
}
uint32_t Be32(std::string_view s, size_t i) { return Be16(s, i) << 16 | Be16(s, i + 2); }
uint32_t Le32(std::string_view s, size_t i) {
  uint32_t v = 0;
  for (int b = 3; b >= 0; --b) v = v << 8 | static_cast<uint8_t>(s[i + b]);
  return v;
}
uint8_t At(std::string_view s, size_t i) { return static_cast<uint8_t>(s[i]); }

// JPEG: marker segments from SOI to EOI; entropy-coded data after SOS runs to the next marker
// that is not a stuffed 0xff00, a restart marker or a fill byte.
std::string MetadataInJpeg(std::string_view o) {
  if (o.size() < 4 || At(o, 0) != 0xff || At(o, 1) != 0xd8) return "output lacks SOI";
  size_t i = 2;
  for (;;) {
    if (i + 2 > o.size() || At(o, i) != 0xff) return "output: no marker where one belongs";
    const uint8_t m = At(o, i + 1);
    if (m == 0xff) return "output: fill bytes between segments";
    if (m == 0xd9) return i + 2 == o.size() ? "" : "output: bytes after EOI";
    if (i + 4 > o.size()) return "output: truncated segment";
    const size_t len = Be16(o, i + 2);
    if (len < 2 || i + 2 + len > o.size()) return "output: segment runs past the end";
    const std::string_view p = o.substr(i + 4, len - 2);
    const bool decoding = (m >= 0xc0 && m <= 0xcf && m != 0xc8) || m == 0xda || m == 0xdb ||
                          m == 0xdd;  // SOFn, DHT, DAC, SOS, DQT, DRI
    if (m == 0xe0) {
      if (i != 2 || len != 16 || !p.starts_with(std::string_view("JFIF\0\x01\x01", 7)) ||
          p.substr(12) != std::string_view("\0\0", 2))
        return "output's APP0 is not a fresh JFIF right after SOI";
    } else if (m == 0xee) {
      if (len != 14 || p.substr(0, 11) != std::string_view("Adobe\x00\x64\0\0\0\0", 11))
        return "output's APP14 is not a fresh Adobe segment";
    } else if (!decoding) {
      return "output keeps marker " + std::to_string(m) + " (not on the allow-list)";
    }
    i += 2 + len;
    if (m != 0xda) continue;
    for (;;) {  // scan data
      if (i + 1 >= o.size()) return "output: scan without an end";
      if (At(o, i) == 0xff) {
        const uint8_t n = At(o, i + 1);
        if (n == 0x00 || (n >= 0xd0 && n <= 0xd7)) {
          i += 2;
          continue;
        }
        if (n == 0xff) {
          ++i;
          continue;
        }
        break;
      }
      ++i;
    }
  }
}

std::string MetadataInPng(std::string_view o) {
  size_t i = 8;
  for (;;) {
    if (i + 12 > o.size()) return "output: PNG without IEND";
    const size_t len = Be32(o, i);
    if (len > o.size() - i - 12) return "output: PNG chunk runs past the end";
    const std::string_view type = o.substr(i + 4, 4);
    if (web::Crc32(o.substr(i + 4, 4 + len)) != Be32(o, i + 8 + len))
      return "output: PNG chunk with a bad CRC";
    static const std::set<std::string_view> kAllowed = {"IHDR", "PLTE", "IDAT", "IEND",
                                                         "tRNS", "gAMA", "cHRM", "sRGB",
                                                         "sBIT", "bKGD", "pHYs", "cICP"};
    if (!kAllowed.contains(type)) return "output keeps PNG chunk " + std::string(type);
    i += 12 + len;
    if (type == "IEND") return i == o.size() ? "" : "output: bytes after IEND";
  }
}

// The chunks of a RIFF body (or of an ANMF frame's data); `allowed` names the fourccs kept.
std::string UnlistedRiffChunk(std::string_view o, size_t i, const std::set<std::string_view>& allowed,
                              bool top) {
  bool first = true;
  while (i < o.size()) {
    if (i + 8 > o.size()) return "output: truncated WebP chunk";
    const std::string_view fourcc = o.substr(i, 4);
    const uint64_t len = Le32(o, i + 4);
    const uint64_t padded = len + (len & 1);
    if (padded > o.size() - i - 8) return "output: WebP chunk runs past the end";
    if (!allowed.contains(fourcc)) return "output keeps WebP chunk " + std::string(fourcc);
    if (len & 1 && At(o, i + 8 + len) != 0) return "output: a padding byte that is not zero";
    if (fourcc == "VP8X" && (!top || !first || len != 10 || (At(o, i + 8) & ~0x12) != 0 ||
                             o.substr(i + 9, 3) != std::string_view("\0\0\0", 3)))
      return "output's VP8X is not fresh (flags beyond alpha and animation, reserved bytes)";
    if (fourcc == "ANIM" && len != 6) return "output's ANIM is not 6 bytes";
    if (fourcc == "ANMF") {
      if (len < 16) return "output: short ANMF";
      if (std::string p = UnlistedRiffChunk(o.substr(0, i + 8 + len), i + 8 + 16,
                                            {"ALPH", "VP8 ", "VP8L"}, false);
          !p.empty())
        return "in a frame: " + p;
    }
    first = false;
    i += 8 + padded;
  }
  return "";
}

std::string MetadataInWebp(std::string_view o) {
  if (o.size() < 12 || Le32(o, 4) != o.size() - 8) return "output: RIFF size is not the file's";
  return UnlistedRiffChunk(o, 12, {"VP8X", "ANIM", "ANMF", "ALPH", "VP8 ", "VP8L"}, true);
}

std::string Metadata(ImageType type, std::string_view o) {
  switch (type) {
    case ImageType::kJpeg: return MetadataInJpeg(o);
    case ImageType::kPng: return MetadataInPng(o);
    case ImageType::kWebp: return MetadataInWebp(o);
    default: return "output of unknown type";
  }
}

}  // namespace

std::string Image(std::string_view data) {
  const uint64_t limit = web::kDefaultMaxImagePixels;
  web::SanitizedImage out;
  std::string why;
  const ImageError e = web::SanitizeImage(data, limit, &out, &why);
  const ImageType sniffed = web::SniffImageType(data);
  if (web::ImageTypeFromMime(web::ImageMimeType(sniffed)) != sniffed)
    return "MIME type round trip";
  if (e != ImageError::kOk) {
    if (e != ImageError::kUnsupported && e != ImageError::kBadImage && e != ImageError::kTooLarge)
      return "undocumented error " + std::to_string(static_cast<int>(e));
    if ((e == ImageError::kUnsupported) != (sniffed == ImageType::kUnknown))
      return "unsupported_media_type iff the content is not a known image, got: " + why;
    if (why.empty()) return "error without a message";
    return "";
  }
  if (out.type != sniffed) return "output type differs from the sniffed input type";
  if (web::SniffImageType(out.bytes) != out.type) return "output does not sniff as its type";
  if (std::string m = Metadata(out.type, out.bytes); !m.empty()) return m;
  const uint64_t pixels = uint64_t{out.width} * out.height;
  if (pixels == 0 || pixels > limit) return "accepted " + std::to_string(pixels) + " pixels";
  if (out.bytes.size() > data.size() || out.dropped_bytes != data.size() - out.bytes.size())
    return "dropped_bytes is not input - output";
  // Sanitizing is idempotent: the output is a fixed point with nothing more to drop.
  web::SanitizedImage again;
  if (web::SanitizeImage(out.bytes, limit, &again, &why) != ImageError::kOk)
    return "the output does not sanitize again: " + why;
  if (again.bytes != out.bytes || again.dropped_bytes != 0 || again.width != out.width ||
      again.height != out.height || again.type != out.type)
    return "sanitizing the output again changes it";
  // The pixel limit is exact: accepted at width x height, refused one pixel below.
  web::SanitizedImage edge;
  if (web::SanitizeImage(data, pixels, &edge, &why) != ImageError::kOk || edge.bytes != out.bytes)
    return "refused at a limit of exactly its pixels";
  if (web::SanitizeImage(data, pixels - 1, &edge, &why) != ImageError::kTooLarge)
    return "not image_too_large under a limit one pixel smaller";
  return "";
}

}  // namespace yiwang::fuzz
