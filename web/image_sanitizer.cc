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

// --- JPEG (ITU T.81 annex B; JFIF, ITU T.871; Adobe APP14) --------------------------------------

constexpr uint8_t kSos = 0xda, kDqt = 0xdb, kDht = 0xc4, kDac = 0xcc, kDri = 0xdd;

bool IsSof(uint8_t m) {
  return m >= 0xc0 && m <= 0xcf && m != kDht && m != 0xc8 && m != kDac;
}

// A fresh JFIF APP0 segment with the pixel density of `p` (an APP0 payload) and no thumbnail;
// "" if `p` is not a JFIF APP0 (a JFXX extension, say, whose thumbnail may show anything).
std::string RebuiltJfif(std::string_view p) {
  if (p.size() < 14 || p.substr(0, 5) != std::string_view("JFIF\0", 5)) return "";
  const char s[18] = {'\xff', '\xe0', 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1,  // version 1.01
                      p[7], p[8], p[9], p[10], p[11],  // units, Xdensity, Ydensity
                      0, 0};                            // no thumbnail
  return std::string(s, sizeof s);
}

// A fresh Adobe APP14 segment with the colour transform of `p` (an APP14 payload), which
// decoders need for RGB and CMYK/YCCK images; "" if `p` is not Adobe's.
std::string RebuiltAdobe(std::string_view p) {
  if (p.size() < 12 || p.substr(0, 5) != "Adobe") return "";
  const char s[16] = {'\xff', '\xee', 0, 14, 'A', 'd', 'o', 'b', 'e', 0, 100,  // version 100
                      0, 0, 0, 0,                                         // no flags
                      p[11]};                                             // transform
  return std::string(s, sizeof s);
}

// Whether a DQT or DHT payload is a whole number of tables (T.81 B.2.4.1, B.2.4.2): what a
// decoder reads of it and nothing else.
bool WholeTables(uint8_t m, std::string_view p) {
  size_t i = 0;
  while (i < p.size()) {
    size_t n = m == kDqt ? ((Byte(p, i) >> 4) != 0 ? 129 : 65) : 17;
    if (m == kDht && p.size() - i >= 17)
      for (size_t k = 1; k <= 16; ++k) n += Byte(p, i + k);
    if (p.size() - i < n) return false;
    i += n;
  }
  return !p.empty();
}

// Whether the payload of a segment the decoder needs has the size its fields give.
bool SegmentSizeOk(uint8_t m, std::string_view p) {
  switch (m) {
    case kDqt:
    case kDht: return WholeTables(m, p);
    case kDri: return p.size() == 2;
    case kDac: return !p.empty() && p.size() % 2 == 0;
    case kSos: return !p.empty() && Byte(p, 0) >= 1 && Byte(p, 0) <= 4 &&
                      p.size() == 1 + 2u * Byte(p, 0) + 3;
    default: return true;  // SOFn: checked with the pixel size
  }
}

// The end of the entropy-coded data starting at in[i]: the next marker that is neither a
// stuffed 0xff00 nor RSTn (fill bytes before it stay outside); npos if there is none.
size_t ScanEnd(std::string_view in, size_t i) {
  for (;;) {
    if (i + 1 >= in.size()) return std::string_view::npos;
    if (Byte(in, i) == 0xff) {
      const uint8_t next = Byte(in, i + 1);
      if (next == 0x00 || (next >= 0xd0 && next <= 0xd7)) {
        i += 2;
        continue;
      }
      if (next != 0xff) return i;
    }
    ++i;
  }
}

ImageError CheckJpegFrame(std::string_view payload, uint64_t max_pixels, SanitizedImage* out,
                          std::string* why) {
  if (payload.size() < 6) return Bad(why, "corrupt JPEG: short frame header");
  const uint32_t h = Be16(payload, 1), w = Be16(payload, 3);
  const uint32_t components = Byte(payload, 5);
  if (components == 0 || payload.size() != 6 + 3 * components)
    return Bad(why, "corrupt JPEG: bad frame header");
  if (h == 0) return Bad(why, "JPEG height given by a DNL marker is not supported");
  return CheckPixels(w, h, max_pixels, out, why);
}

// Kept: SOFn, DHT, DAC, DQT, DRI, SOS with its scan data, and APP0 JFIF and APP14 Adobe
// rebuilt from their numeric fields (the first of each). Dropped: every other APPn (EXIF, XMP,
// ICC profiles, IPTC, JFXX thumbnails, ...), COM, every other marker, anything after EOI.
ImageError SanitizeJpeg(std::string_view in, uint64_t max_pixels, SanitizedImage* out,
                        std::string* why) {
  std::string& o = out->bytes;
  o.assign("\xff\xd8", 2);
  size_t i = 2;
  bool have_sof = false, have_sos = false, have_jfif = false, have_adobe = false;
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
    if (m == 0xe0 && !have_jfif) {
      const std::string jfif = RebuiltJfif(payload);
      have_jfif = !jfif.empty();
      o.insert(2, jfif);  // JFIF's APP0 comes right after SOI
    } else if (m == 0xee && !have_adobe) {
      const std::string adobe = RebuiltAdobe(payload);
      have_adobe = !adobe.empty();
      o.append(adobe);
    }
    if (!IsSof(m) && m != kDht && m != kDac && m != kDqt && m != kDri && m != kSos) continue;
    if (!SegmentSizeOk(m, payload))
      return Bad(why, fmt::format("corrupt JPEG: segment 0x{:02x} at byte {} has a bad size", m,
                                  i - len - 2));
    if (IsSof(m)) {
      if (have_sof) return Bad(why, "corrupt JPEG: two frame headers");
      if (ImageError e = CheckJpegFrame(payload, max_pixels, out, why); e != ImageError::kOk)
        return e;
      have_sof = true;
    }
    o.append(segment.data(), segment.size());
    if (m != kSos) continue;
    if (!have_sof) return Bad(why, "corrupt JPEG: scan before the frame header");
    have_sos = true;
    const size_t end = ScanEnd(in, i);
    if (end == std::string_view::npos) return Bad(why, "truncated JPEG: scan data without an end");
    o.append(in.data() + i, end - i);
    i = end;
  }
  out->type = ImageType::kJpeg;
  out->dropped_bytes = in.size() - o.size();
  return ImageError::kOk;
}

// --- PNG (ISO/IEC 15948; PNG third edition) -----------------------------------------------------

// The chunks kept, each only within its sizes: the critical ones and the ancillary ones that
// only say how to show the pixels. Every other ancillary chunk is dropped: text (tEXt, zTXt,
// iTXt), EXIF (eXIf), time (tIME), ICC profiles (iCCP: a name and text tags), named palettes
// (sPLT), animation (acTL, fcTL, fdAT: the still image stays), private and unknown chunks.
struct PngChunkRule {
  std::string_view type;
  uint32_t min, max;
};
constexpr PngChunkRule kKeptPngChunks[] = {
    {"IHDR", 13, 13}, {"PLTE", 3, 768}, {"IDAT", 0, 0x7fffffff}, {"IEND", 0, 0},
    {"tRNS", 1, 256}, {"gAMA", 4, 4},   {"cHRM", 32, 32},        {"sRGB", 1, 1},
    {"sBIT", 1, 4},   {"bKGD", 1, 6},   {"pHYs", 9, 9},          {"cICP", 4, 4}};

enum class PngChunkFate { kKeep, kDrop, kRefuse };

PngChunkFate FateOf(std::string_view type, size_t len) {
  const bool critical = std::isupper(static_cast<unsigned char>(type[0]));
  for (const PngChunkRule& r : kKeptPngChunks) {
    if (r.type != type) continue;
    if (len >= r.min && len <= r.max) return PngChunkFate::kKeep;
    return critical ? PngChunkFate::kRefuse : PngChunkFate::kDrop;
  }
  return critical ? PngChunkFate::kRefuse : PngChunkFate::kDrop;
}

ImageError CheckPngHeader(std::string_view data, uint64_t max_pixels, SanitizedImage* out,
                          std::string* why) {
  const uint32_t w = Be32(data, 0), h = Be32(data, 4);
  const uint8_t depth = Byte(data, 8), colour = Byte(data, 9);
  const bool ok_depth =
      (colour == 0 && (depth == 1 || depth == 2 || depth == 4 || depth == 8 || depth == 16)) ||
      (colour == 3 && (depth == 1 || depth == 2 || depth == 4 || depth == 8)) ||
      ((colour == 2 || colour == 4 || colour == 6) && (depth == 8 || depth == 16));
  if (!ok_depth || Byte(data, 10) != 0 || Byte(data, 11) != 0 || Byte(data, 12) > 1)
    return Bad(why, "corrupt PNG: bad IHDR fields");
  if (w > 0x7fffffffu || h > 0x7fffffffu) return Bad(why, "corrupt PNG: bad dimensions");
  return CheckPixels(w, h, max_pixels, out, why);
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
    const PngChunkFate fate = FateOf(type, len);
    if (fate == PngChunkFate::kRefuse)
      return Bad(why, fmt::format("PNG chunk {} ({} bytes) is not supported", type, len));
    if (first) {
      first = false;
      if (ImageError e = CheckPngHeader(data, max_pixels, out, why); e != ImageError::kOk) return e;
    }
    if (type == "IDAT") have_idat = true;
    if (fate == PngChunkFate::kKeep) o.append(chunk.data(), chunk.size());
    if (type == "IEND") {
      if (!have_idat) return Bad(why, "corrupt PNG: no image data (IDAT)");
      break;
    }
  }
  out->type = ImageType::kPng;
  out->dropped_bytes = in.size() - o.size();
  return ImageError::kOk;
}

// --- WebP (RIFF container, RFC 9649) -------------------------------------------------------------

constexpr uint8_t kVp8xAlpha = 0x10;
constexpr uint8_t kVp8xAnimation = 0x02;

struct RiffChunk {
  std::string_view fourcc, data;
  size_t size = 0;  // header, data and padding
};

// The chunk at body[i]; false (and *why set) if it runs past the end.
bool RiffChunkAt(std::string_view body, size_t i, RiffChunk* c, std::string* why) {
  if (i + 8 > body.size()) {
    *why = "truncated WebP chunk header";
    return false;
  }
  const uint64_t len = Le32(body, i + 4);
  const uint64_t padded = len + (len & 1);
  if (padded > body.size() - i - 8) {
    *why = fmt::format("truncated WebP: chunk '{}' runs past the end", body.substr(i, 4));
    return false;
  }
  *c = RiffChunk{body.substr(i, 4), body.substr(i + 8, len), static_cast<size_t>(8 + padded)};
  return true;
}

// A chunk written afresh (its padding byte zero).
std::string RiffChunkBytes(std::string_view fourcc, std::string_view data) {
  std::string c(fourcc);
  c.resize(8);
  PutLe32(&c, 4, static_cast<uint32_t>(data.size()));
  c.append(data);
  if (data.size() % 2) c.push_back('\0');
  return c;
}

// An ANMF chunk with only the frame's header, alpha and bitstream (RFC 9649 section 2.7.1.1:
// unknown chunks inside a frame are dropped too); "" (and *why set) if it holds no bitstream.
std::string RebuiltFrame(std::string_view data, std::string* why) {
  if (data.size() < 16) {
    *why = "corrupt WebP: short ANMF chunk";
    return "";
  }
  std::string frame(data.substr(0, 16));
  bool bitstream = false;
  RiffChunk c;
  for (size_t i = 16; i < data.size(); i += c.size) {
    if (!RiffChunkAt(data, i, &c, why)) return "";
    const bool image = c.fourcc == "VP8 " || c.fourcc == "VP8L";
    if (image || c.fourcc == "ALPH") frame += RiffChunkBytes(c.fourcc, c.data);
    bitstream |= image;
  }
  if (!bitstream) *why = "corrupt WebP: an animation frame without image data";
  return bitstream ? RiffChunkBytes("ANMF", frame) : "";
}

// The pixel size of a VP8 or VP8L bitstream into *w, *h; false if its header is bad.
bool BitstreamSize(const RiffChunk& c, uint64_t* w, uint64_t* h) {
  if (c.fourcc == "VP8 ") {
    // Frame tag (3 bytes, bit 0 = 0 for a key frame), start code 9d 01 2a, 14-bit sizes.
    const std::string_view d = c.data;
    if (d.size() < 10 || (Byte(d, 0) & 1) != 0 || Byte(d, 3) != 0x9d || Byte(d, 4) != 0x01 ||
        Byte(d, 5) != 0x2a)
      return false;
    *w = Le16(d, 6) & 0x3fff;
    *h = Le16(d, 8) & 0x3fff;
    return true;
  }
  if (c.data.size() < 5 || Byte(c.data, 0) != 0x2f) return false;
  const uint32_t bits = Le32(c.data, 1);
  *w = (bits & 0x3fff) + 1ull;
  *h = ((bits >> 14) & 0x3fff) + 1ull;
  return true;
}

// Kept, each written afresh: VP8X (its flags down to alpha and animation, the reserved bits
// zero), ANIM, ANMF (as RebuiltFrame), ALPH, VP8, VP8L. Dropped: ICCP, EXIF, "XMP " and every
// other chunk; the RIFF size is rewritten.
ImageError SanitizeWebp(std::string_view in, uint64_t max_pixels, SanitizedImage* out,
                        std::string* why) {
  if (in.size() < 12) return Bad(why, "truncated WebP header");
  const uint64_t riff_size = Le32(in, 4);
  if (riff_size < 4 || riff_size + 8 > in.size())
    return Bad(why, "truncated WebP: the RIFF size runs past the end");
  const std::string_view body = in.substr(12, riff_size - 4);
  std::string& o = out->bytes;
  o.assign(in.substr(0, 12));
  bool extended = false, have_image = false;
  uint64_t w = 0, h = 0;
  RiffChunk c;
  for (size_t i = 0; i < body.size(); i += c.size) {
    if (!RiffChunkAt(body, i, &c, why)) return ImageError::kBadImage;
    if (c.fourcc == "VP8X") {
      if (i != 0 || c.data.size() < 10) return Bad(why, "corrupt WebP: bad VP8X chunk");
      extended = true;
      w = Le24(c.data, 4) + 1ull;
      h = Le24(c.data, 7) + 1ull;
      std::string vp8x(4, '\0');
      vp8x[0] = static_cast<char>(Byte(c.data, 0) & (kVp8xAlpha | kVp8xAnimation));
      o += RiffChunkBytes("VP8X", vp8x + std::string(c.data.substr(4, 6)));
    } else if (c.fourcc == "VP8 " || c.fourcc == "VP8L") {
      uint64_t fw = 0, fh = 0;
      if (!BitstreamSize(c, &fw, &fh))
        return Bad(why, fmt::format("corrupt WebP: bad {} header", c.fourcc));
      if (!extended) {
        w = fw;
        h = fh;
      }
      have_image = true;
      o += RiffChunkBytes(c.fourcc, c.data);
    } else if (c.fourcc == "ANMF") {
      const std::string frame = RebuiltFrame(c.data, why);
      if (frame.empty()) return ImageError::kBadImage;
      have_image = true;
      o += frame;
    } else if (c.fourcc == "ANIM" && c.data.size() >= 6) {
      o += RiffChunkBytes("ANIM", c.data.substr(0, 6));  // background colour, loop count
    } else if (c.fourcc == "ALPH") {
      o += RiffChunkBytes("ALPH", c.data);
    }
  }
  if (!have_image) return Bad(why, "corrupt WebP: no image data");
  if (ImageError e = CheckPixels(w, h, max_pixels, out, why); e != ImageError::kOk) return e;
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
