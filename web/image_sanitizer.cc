#include "web/image_sanitizer.h"

#include <array>
#include <cctype>

#include <fmt/format.h>

namespace yiwang::web {

namespace {

constexpr std::string_view kPngSignature("\x89PNG\r\n\x1a\n", 8);

uint32_t Be16(std::string_view s, size_t i) {
  return (static_cast<uint32_t>(static_cast<uint8_t>(s[i])) << 8) |
         static_cast<uint8_t>(s[i + 1]);
}
uint32_t Be32(std::string_view s, size_t i) {
  return (Be16(s, i) << 16) | Be16(s, i + 2);
}
uint32_t Le16(std::string_view s, size_t i) {
  return static_cast<uint8_t>(s[i]) | (static_cast<uint32_t>(static_cast<uint8_t>(s[i + 1])) << 8);
}
uint32_t Le24(std::string_view s, size_t i) {
  return Le16(s, i) | (static_cast<uint32_t>(static_cast<uint8_t>(s[i + 2])) << 16);
}
uint32_t Le32(std::string_view s, size_t i) { return Le16(s, i) | (Le16(s, i + 2) << 16); }
void PutLe32(std::string* s, size_t i, uint32_t v) {
  for (int b = 0; b < 4; ++b) (*s)[i + b] = static_cast<char>((v >> (8 * b)) & 0xff);
}
uint8_t Byte(std::string_view s, size_t i) { return static_cast<uint8_t>(s[i]); }

ImageError Bad(std::string* why, std::string message) {
  *why = std::move(message);
  return ImageError::kBadImage;
}

ImageError CheckPixels(uint64_t w, uint64_t h, uint64_t max_pixels, SanitizedImage* out,
                       std::string* why) {
  if (w == 0 || h == 0) return Bad(why, "the image has no pixels (width or height 0)");
  if (w * h > max_pixels) {
    *why = fmt::format("the image is {} x {} pixels; at most {} pixels are accepted", w, h,
                       max_pixels);
    return ImageError::kTooLarge;
  }
  out->width = static_cast<uint32_t>(w);
  out->height = static_cast<uint32_t>(h);
  return ImageError::kOk;
}

// --- JPEG (ITU T.81 annex B) -------------------------------------------------------------------

bool IsSof(uint8_t m) {
  return m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc;
}

// Whether an APPn/COM segment (marker `m`, payload `p`) is kept.
bool KeepJpegSegment(uint8_t m, std::string_view p) {
  if (m == 0xe0) return true;  // APP0: JFIF / JFXX
  if (m == 0xe2) return p.substr(0, 12) == std::string_view("ICC_PROFILE\0", 12);
  if (m == 0xee) return p.substr(0, 5) == "Adobe";
  return false;  // APP1 EXIF/XMP, APP13 IPTC, other APPn, COM
}

ImageError SanitizeJpeg(std::string_view in, uint64_t max_pixels, SanitizedImage* out,
                        std::string* why) {
  std::string& o = out->bytes;
  o.assign("\xff\xd8", 2);
  size_t i = 2;
  bool have_sof = false, have_sos = false;
  for (;;) {
    if (i >= in.size()) return Bad(why, "truncated JPEG: no EOI marker");
    if (Byte(in, i) != 0xff)
      return Bad(why, fmt::format("corrupt JPEG: expected a marker at byte {}", i));
    while (i < in.size() && Byte(in, i) == 0xff) ++i;  // fill bytes
    if (i >= in.size()) return Bad(why, "truncated JPEG: no EOI marker");
    const uint8_t m = Byte(in, i++);
    if (m == 0xd9) {  // EOI
      if (!have_sof || !have_sos) return Bad(why, "corrupt JPEG: no frame or scan before EOI");
      o.append("\xff\xd9", 2);
      break;
    }
    if (m == 0x00 || m == 0xd8 || (m >= 0xd0 && m <= 0xd7) || m == 0x01)
      return Bad(why, fmt::format("corrupt JPEG: unexpected marker 0x{:02x} at byte {}", m, i - 1));
    if (i + 2 > in.size()) return Bad(why, "truncated JPEG segment");
    const uint32_t len = Be16(in, i);
    if (len < 2 || i + len > in.size())
      return Bad(why, fmt::format("truncated JPEG: segment 0x{:02x} at byte {} runs past the end",
                                  m, i - 2));
    const std::string_view payload = in.substr(i + 2, len - 2);
    const std::string_view segment = in.substr(i - 2, len + 2);  // marker..payload
    i += len;
    if ((m >= 0xe0 && m <= 0xef) || m == 0xfe) {
      if (KeepJpegSegment(m, payload)) o.append(segment.data(), segment.size());
      continue;
    }
    if (IsSof(m)) {
      if (have_sof) return Bad(why, "corrupt JPEG: two frame headers");
      if (payload.size() < 6) return Bad(why, "corrupt JPEG: short frame header");
      const uint32_t h = Be16(payload, 1), w = Be16(payload, 3);
      const uint32_t components = Byte(payload, 5);
      if (components == 0 || payload.size() != 6 + 3 * components)
        return Bad(why, "corrupt JPEG: bad frame header");
      if (h == 0) return Bad(why, "JPEG height given by a DNL marker is not supported");
      if (ImageError e = CheckPixels(w, h, max_pixels, out, why); e != ImageError::kOk) return e;
      have_sof = true;
    }
    o.append(segment.data(), segment.size());
    if (m != 0xda) continue;
    // SOS: entropy-coded data up to the next marker that is neither a stuffed 0xff00 nor RSTn.
    if (!have_sof) return Bad(why, "corrupt JPEG: scan before the frame header");
    have_sos = true;
    const size_t start = i;
    for (;;) {
      if (i + 1 >= in.size()) return Bad(why, "truncated JPEG: scan data without an end");
      if (Byte(in, i) == 0xff) {
        const uint8_t next = Byte(in, i + 1);
        if (next == 0x00 || (next >= 0xd0 && next <= 0xd7)) {
          i += 2;
          continue;
        }
        if (next == 0xff) {  // fill byte before a marker
          ++i;
          continue;
        }
        break;
      }
      ++i;
    }
    o.append(in.data() + start, i - start);
  }
  out->type = ImageType::kJpeg;
  out->dropped_bytes = in.size() - o.size();
  return ImageError::kOk;
}

// --- PNG (ISO/IEC 15948) -----------------------------------------------------------------------

bool DroppedPngChunk(std::string_view type) {
  return type == "tEXt" || type == "zTXt" || type == "iTXt" || type == "eXIf" || type == "tIME";
}

ImageError SanitizePng(std::string_view in, uint64_t max_pixels, SanitizedImage* out,
                       std::string* why) {
  std::string& o = out->bytes;
  o.assign(kPngSignature);
  size_t i = kPngSignature.size();
  bool first = true, have_idat = false;
  for (;;) {
    if (i + 12 > in.size()) return Bad(why, "truncated PNG: no IEND chunk");
    const uint32_t len = Be32(in, i);
    if (len > 0x7fffffffu || len > in.size() - i - 12)
      return Bad(why, fmt::format("truncated PNG: chunk at byte {} runs past the end", i));
    const std::string_view type = in.substr(i + 4, 4);
    for (char c : type)
      if (!std::isalpha(static_cast<unsigned char>(c)))
        return Bad(why, fmt::format("corrupt PNG: bad chunk type at byte {}", i));
    const std::string_view data = in.substr(i + 8, len);
    const std::string_view chunk = in.substr(i, 12 + len);
    if (Crc32(in.substr(i + 4, 4 + len)) != Be32(in, i + 8 + len))
      return Bad(why, fmt::format("corrupt PNG: CRC mismatch in chunk {}", type));
    i += 12 + len;
    if (first != (type == "IHDR")) return Bad(why, "corrupt PNG: IHDR must come first, once");
    if (first) {
      first = false;
      if (len != 13) return Bad(why, "corrupt PNG: IHDR is not 13 bytes");
      const uint32_t w = Be32(data, 0), h = Be32(data, 4);
      const uint8_t depth = Byte(data, 8), colour = Byte(data, 9);
      const bool ok_depth =
          (colour == 0 && (depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16)) ||
          (colour == 3 && (depth == 1 || depth == 2 || depth == 4 || depth == 8)) ||
          ((colour == 2 || colour == 4 || colour == 6) && (depth == 8 || depth == 16));
      if (!ok_depth || Byte(data, 10) != 0 || Byte(data, 11) != 0 || Byte(data, 12) > 1)
        return Bad(why, "corrupt PNG: bad IHDR fields");
      if (w > 0x7fffffffu || h > 0x7fffffffu) return Bad(why, "corrupt PNG: bad dimensions");
      if (ImageError e = CheckPixels(w, h, max_pixels, out, why); e != ImageError::kOk) return e;
    }
    if (type == "IDAT") have_idat = true;
    if (type == "IEND") {
      if (!have_idat) return Bad(why, "corrupt PNG: no image data (IDAT)");
      o.append(chunk.data(), chunk.size());
      break;
    }
    const bool critical = std::isupper(static_cast<unsigned char>(type[0]));
    if (critical && type != "IHDR" && type != "PLTE" && type != "IDAT")
      return Bad(why, fmt::format("PNG chunk {} is not supported", type));
    if (!DroppedPngChunk(type)) o.append(chunk.data(), chunk.size());
  }
  out->type = ImageType::kPng;
  out->dropped_bytes = in.size() - o.size();
  return ImageError::kOk;
}

// --- WebP (RIFF container, RFC 9649) -------------------------------------------------------------

constexpr uint8_t kVp8xExif = 0x08;
constexpr uint8_t kVp8xXmp = 0x04;

ImageError SanitizeWebp(std::string_view in, uint64_t max_pixels, SanitizedImage* out,
                        std::string* why) {
  if (in.size() < 12) return Bad(why, "truncated WebP header");
  const uint64_t riff_size = Le32(in, 4);
  if (riff_size < 4 || riff_size + 8 > in.size())
    return Bad(why, "truncated WebP: the RIFF size runs past the end");
  const std::string_view body = in.substr(12, riff_size - 4);
  std::string& o = out->bytes;
  o.assign(in.substr(0, 12));
  size_t vp8x_at = std::string::npos;  // offset of the VP8X payload in `o`
  bool have_image = false;
  uint64_t w = 0, h = 0;
  size_t i = 0;
  bool first = true;
  while (i < body.size()) {
    if (i + 8 > body.size()) return Bad(why, "truncated WebP chunk header");
    const std::string_view fourcc = body.substr(i, 4);
    const uint64_t len = Le32(body, i + 4);
    const uint64_t padded = len + (len & 1);
    if (padded > body.size() - i - 8)
      return Bad(why, fmt::format("truncated WebP: chunk '{}' runs past the end", fourcc));
    const std::string_view data = body.substr(i + 8, len);
    const std::string_view chunk = body.substr(i, 8 + padded);
    i += 8 + padded;
    if (fourcc == "VP8X") {
      if (!first || len < 10) return Bad(why, "corrupt WebP: bad VP8X chunk");
      vp8x_at = o.size() + 8;
      w = Le24(data, 4) + 1ull;
      h = Le24(data, 7) + 1ull;
    } else if (fourcc == "VP8 ") {
      // Frame tag (3 bytes, bit 0 = 0 for a key frame), start code 9d 01 2a, 14-bit sizes.
      if (len < 10 || (Byte(data, 0) & 1) != 0 || Byte(data, 3) != 0x9d || Byte(data, 4) != 0x01 ||
          Byte(data, 5) != 0x2a)
        return Bad(why, "corrupt WebP: bad VP8 frame header");
      if (vp8x_at == std::string::npos) {
        w = Le16(data, 6) & 0x3fff;
        h = Le16(data, 8) & 0x3fff;
      }
      have_image = true;
    } else if (fourcc == "VP8L") {
      if (len < 5 || Byte(data, 0) != 0x2f) return Bad(why, "corrupt WebP: bad VP8L header");
      if (vp8x_at == std::string::npos) {
        const uint32_t bits = Le32(data, 1);
        w = (bits & 0x3fff) + 1ull;
        h = ((bits >> 14) & 0x3fff) + 1ull;
      }
      have_image = true;
    } else if (fourcc == "ANMF") {
      have_image = true;  // animation frame (its own sub-chunks are kept as they are)
    }
    first = false;
    if (fourcc == "EXIF" || fourcc == "XMP ") continue;
    o.append(chunk.data(), chunk.size());
  }
  if (!have_image) return Bad(why, "corrupt WebP: no image data");
  if (ImageError e = CheckPixels(w, h, max_pixels, out, why); e != ImageError::kOk) return e;
  if (vp8x_at != std::string::npos)
    o[vp8x_at] = static_cast<char>(Byte(o, vp8x_at) & ~(kVp8xExif | kVp8xXmp));
  PutLe32(&o, 4, static_cast<uint32_t>(o.size() - 8));
  out->type = ImageType::kWebp;
  out->dropped_bytes = in.size() - o.size();
  return ImageError::kOk;
}

}  // namespace

uint32_t Crc32(std::string_view data, uint32_t crc) {
  static const std::array<uint32_t, 256> kTable = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  crc = ~crc;
  for (unsigned char b : data) crc = kTable[(crc ^ b) & 0xff] ^ (crc >> 8);
  return ~crc;
}

std::string_view ImageMimeType(ImageType type) {
  switch (type) {
    case ImageType::kJpeg: return "image/jpeg";
    case ImageType::kPng: return "image/png";
    case ImageType::kWebp: return "image/webp";
    default: return "";
  }
}

ImageType ImageTypeFromMime(std::string_view content_type) {
  std::string t;
  for (char c : content_type.substr(0, content_type.find(';'))) {
    if (c == ' ' || c == '\t') continue;
    t.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  if (t == "image/jpeg" || t == "image/jpg" || t == "image/pjpeg") return ImageType::kJpeg;
  if (t == "image/png") return ImageType::kPng;
  if (t == "image/webp") return ImageType::kWebp;
  return ImageType::kUnknown;
}

ImageType SniffImageType(std::string_view b) {
  if (b.size() >= 3 && b.substr(0, 3) == "\xff\xd8\xff") return ImageType::kJpeg;
  if (b.substr(0, kPngSignature.size()) == kPngSignature) return ImageType::kPng;
  if (b.size() >= 12 && b.substr(0, 4) == "RIFF" && b.substr(8, 4) == "WEBP")
    return ImageType::kWebp;
  return ImageType::kUnknown;
}

ImageError SanitizeImage(std::string_view in, uint64_t max_pixels, SanitizedImage* out,
                         std::string* why) {
  *out = SanitizedImage{};
  switch (SniffImageType(in)) {
    case ImageType::kJpeg: return SanitizeJpeg(in, max_pixels, out, why);
    case ImageType::kPng: return SanitizePng(in, max_pixels, out, why);
    case ImageType::kWebp: return SanitizeWebp(in, max_pixels, out, why);
    default:
      *why = "the content is not a JPEG, PNG or WebP image";
      return ImageError::kUnsupported;
  }
}

}  // namespace yiwang::web
