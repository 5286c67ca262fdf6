#pragma once
// Images built byte by byte for the photo tests: a JPEG with EXIF GPS, XMP, IPTC, a comment, an
// ICC profile, a JFIF thumbnail, a JFXX thumbnail and HTML where decoders do not look; a
// decodable 1x1 PNG with text, time, profile and private chunks; an extended WebP and an
// animated one with EXIF, XMP, ICC and unknown chunks. With metadata=false each builder returns
// what the sanitizer must produce from it.

#include <cstdint>
#include <string>

#include "web/image_sanitizer.h"


namespace yiwang::test {

using web::Crc32;

// The GPS latitude of the EXIF block (29/1, 33/1, 3115/100 as big-endian rationals): bytes
// that must not survive sanitizing.
inline const std::string kGpsMarker("\0\0\0\x1d\0\0\0\x01\0\0\0\x21\0\0\0\x01\0\0\x0c\x2b\0\0\0\x64",
                                    24);

inline std::string Be16(uint32_t v) {
  return {static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}
inline std::string Be32(uint32_t v) { return Be16(v >> 16) + Be16(v & 0xffff); }
inline std::string Le32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

inline std::string JpegSegment(uint8_t marker, const std::string& payload) {
  return std::string("\xff") + static_cast<char>(marker) + Be16(payload.size() + 2) + payload;
}

inline std::string JpegWithExifGps(bool metadata = true) {
  std::string j("\xff\xd8", 2);
  // JFIF 1.01, no density units, 1:1; with metadata a 1x1 thumbnail and HTML after it.
  std::string jfif("JFIF\0\x01\x01\x00\x00\x01\x00\x01", 12);
  j += JpegSegment(0xe0, metadata ? jfif + "\x01\x01\x12\x34\x56<html><script>alert(1)</script>"
                                  : jfif + std::string("\0\0", 2));
  if (metadata) {
    // A JFXX extension APP0 whose thumbnail (a JPEG of its own) carries the GPS bytes.
    j += JpegSegment(0xe0, std::string("JFXX\0\x10\xff\xd8", 8) + kGpsMarker + "\xff\xd9");
    // TIFF (big-endian): IFD0 with one entry, GPSInfo (0x8825) -> the GPS IFD at offset 26,
    // which holds GPSLatitudeRef "N" and GPSLatitude (3 rationals at offset 56).
    std::string tiff("MM\0\x2a\0\0\0\x08", 8);
    tiff += Be16(1) + Be16(0x8825) + Be16(4) + Be32(1) + Be32(26) + Be32(0);
    tiff += Be16(2);
    tiff += Be16(0x0001) + Be16(2) + Be32(2) + std::string("N\0\0\0", 4);
    tiff += Be16(0x0002) + Be16(5) + Be32(3) + Be32(56);
    tiff += Be32(0);
    tiff += kGpsMarker;
    j += JpegSegment(0xe1, std::string("Exif\0\0", 6) + tiff);
    j += JpegSegment(0xe1, std::string("http://ns.adobe.com/xap/1.0/\0", 29) +
                               "<x:xmpmeta><exif:GPSLatitude>29,33.5N</exif:GPSLatitude></x:xmpmeta>");
    j += JpegSegment(0xe2, std::string("ICC_PROFILE\0\x01\x01", 14) + "desc: GPS 29.56N");
    j += JpegSegment(0xed, std::string("Photoshop 3.0\0" "8BIM\x04\x04", 20) + "iptc");
    j += JpegSegment(0xfe, "taken by 张三 at home");
    j += JpegSegment(0xf0, "JPG0 GPS 29.56N");  // a reserved marker
  }
  // Adobe APP14, colour transform 1 (YCbCr); with metadata other flags and text after it.
  j += JpegSegment(0xee, metadata ? std::string("Adobe\x00\x65\x80\x00\x00\x00\x01", 12) + "GPS 29.56N"
                                  : std::string("Adobe\x00\x64\x00\x00\x00\x00\x01", 12));
  j += JpegSegment(0xdb, std::string(1, '\0') + std::string(64, '\x01'));
  // SOF0: 8 bits, 8 rows, 16 columns, 3 components.
  j += JpegSegment(0xc0, std::string("\x08\x00\x08\x00\x10\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01", 15));
  j += JpegSegment(0xc4, std::string("\x00\x01", 2) + std::string(15, '\0') + std::string(1, '\0'));
  j += JpegSegment(0xda, std::string("\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00", 10));
  // Entropy-coded data with a stuffed 0xff00 and a restart marker.
  j += std::string("\x12\x34\xff\x00\x56\xff\xd0\x78\x9a", 9);
  j += std::string("\xff\xd9", 2);
  return j;
}

inline std::string PngChunk(const std::string& type, const std::string& data) {
  return Be32(static_cast<uint32_t>(data.size())) + type + data + Be32(Crc32(type + data));
}

inline const std::string kPngSignature("\x89PNG\r\n\x1a\n", 8);

// A 1x1 red RGB PNG (its IDAT a stored zlib block: decodable by any browser), with gamma and
// density; with metadata text, time, a profile, a named palette, a private chunk and an
// oversized gAMA holding text.
inline std::string PngWithText(bool metadata = true) {
  std::string p = kPngSignature;
  p += PngChunk("IHDR", Be32(1) + Be32(1) + std::string("\x08\x02\x00\x00\x00", 5));
  p += PngChunk("gAMA", Be32(45455));
  if (metadata) {
    p += PngChunk("tEXt", std::string("Comment\0secret location 29.56N", 30));
    p += PngChunk("tIME", std::string("\x07\xea\x0b\x16\x03\x27\x00", 7));
    p += PngChunk("iCCP", std::string("GPS 29.56N\0\0\x78\x01", 14));
    p += PngChunk("sPLT", std::string("GPS 29.56N\0\x08", 12));
    p += PngChunk("gAMA", Be32(45455) + "GPS 29.56N");
    p += PngChunk("gpSt", "GPS 29.56N 106.57E <script>alert(1)</script>");
  }
  p += PngChunk("pHYs", Be32(2835) + Be32(2835) + std::string(1, '\x01'));
  p += PngChunk("IDAT", std::string("\x78\x01\x01\x04\x00\xfb\xff\x00\xff\x00\x00\x03\x01\x01\x00", 15));
  if (metadata) p += PngChunk("iTXt", std::string("Author\0\0\0\0\0张三", 17));
  p += PngChunk("IEND", "");
  return p;
}

// A PNG whose header says width x height (its data is not that big: nothing decodes it).
inline std::string Png(uint32_t width, uint32_t height) {
  std::string p = kPngSignature;
  p += PngChunk("IHDR", Be32(width) + Be32(height) + std::string("\x08\x02\x00\x00\x00", 5));
  p += PngChunk("IDAT", std::string("\x78\x01\x01\x04\x00\xfb\xff\x00\xff\x00\x00\x03\x01\x01\x00", 15));
  p += PngChunk("IEND", "");
  return p;
}

inline std::string WebpChunk(const std::string& fourcc, const std::string& data) {
  std::string c = fourcc + Le32(static_cast<uint32_t>(data.size())) + data;
  if (data.size() % 2) c.push_back('\0');
  return c;
}

inline std::string Riff(const std::string& body) {
  return "RIFF" + Le32(static_cast<uint32_t>(body.size())) + body;
}

// An extended WebP, 640 x 480, with alpha; with metadata also the ICC, EXIF and XMP flags and
// chunks, reserved VP8X bits and bytes, and an unknown chunk of HTML.
inline std::string WebpWithExif(bool metadata = true) {
  std::string vp8x(1, metadata ? '\x3d' : '\x10');
  vp8x += metadata ? std::string("GPS", 3) : std::string(3, '\0');
  vp8x += std::string("\x7f\x02\x00", 3);  // 639
  vp8x += std::string("\xdf\x01\x00", 3);  // 479
  const uint32_t bits = 639u | (479u << 14) | (1u << 28);
  std::string body = "WEBP";
  body += WebpChunk("VP8X", metadata ? vp8x + "<b>" : vp8x);
  if (metadata) body += WebpChunk("ICCP", "fake icc: GPS 29.56N");
  body += WebpChunk("VP8L", std::string(1, '\x2f') + Le32(bits) + "pixels");
  if (metadata) {
    body += WebpChunk("EXIF", std::string("MM\0\x2a", 4) + kGpsMarker + "x");  // odd: padded
    body += WebpChunk("XMP ", "<x:xmpmeta/>");
    body += WebpChunk("HTML", "<html><script>alert(1)</script></html>");
  }
  return Riff(body);
}

// An animated WebP, 2 x 2, one frame; with metadata an unknown chunk inside the frame and one
// beside it, and a longer ANIM.
inline std::string AnimatedWebp(bool metadata = true) {
  std::string vp8x(1, '\x02');
  vp8x += std::string(3, '\0');
  vp8x += std::string("\x01\x00\x00\x01\x00\x00", 6);  // 2 x 2
  const uint32_t bits = 1u | (1u << 14);
  std::string frame = std::string(6, '\0') + std::string("\x01\x00\x00\x01\x00\x00", 6) +
                      std::string("\x64\x00\x00\x00", 4);  // at 0,0; 2 x 2; 100 ms
  frame += WebpChunk("VP8L", std::string(1, '\x2f') + Le32(bits) + "px");
  if (metadata) frame += WebpChunk("GPSx", "GPS 29.56N 106.57E");
  std::string body = "WEBP";
  body += WebpChunk("VP8X", vp8x);
  body += WebpChunk("ANIM", std::string(6, '\0') + (metadata ? "GPS 29.56N" : ""));
  body += WebpChunk("ANMF", frame);
  if (metadata) body += WebpChunk("note", "<script>alert(1)</script>");
  return Riff(body);
}

}  // namespace yiwang::test
