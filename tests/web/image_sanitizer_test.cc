// The image sanitizer on images built byte by byte: type by content, only an allow-list of
// segments and chunks kept (APP0 and APP14 rebuilt), structure checked, pixel limit.

#include "web/image_sanitizer.h"

#include <random>

#include <gtest/gtest.h>

#include "tests/web/test_images.h"

namespace yiwang::web {
namespace {

TEST(Crc32Test, KnownValues) {
  EXPECT_EQ(Crc32("IEND"), 0xAE426082u);
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
}

TEST(ImageSanitizerTest, JpegLosesExifXmpIptcIccAndCommentsButKeepsJfifAndScan) {
  const std::string in = test::JpegWithExifGps();
  ASSERT_NE(in.find("Exif"), std::string::npos);
  SanitizedImage out;
  std::string why;
  ASSERT_EQ(SanitizeImage(in, kDefaultMaxImagePixels, &out, &why), ImageError::kOk) << why;
  EXPECT_EQ(out.type, ImageType::kJpeg);
  EXPECT_EQ(out.width, 16u);
  EXPECT_EQ(out.height, 8u);
  EXPECT_EQ(out.bytes.find("Exif"), std::string::npos);
  EXPECT_EQ(out.bytes.find(test::kGpsMarker), std::string::npos);
  EXPECT_EQ(out.bytes.find("http://ns.adobe.com/xap"), std::string::npos);
  EXPECT_EQ(out.bytes.find("Photoshop 3.0"), std::string::npos);
  EXPECT_EQ(out.bytes.find("taken by"), std::string::npos);
  EXPECT_NE(out.bytes.find("JFIF"), std::string::npos);
  EXPECT_EQ(out.bytes.find("ICC_PROFILE"), std::string::npos);
  // Everything else byte for byte: the output is the input minus the dropped segments.
  EXPECT_EQ(out.bytes, test::JpegWithExifGps(/*metadata=*/false));
  EXPECT_EQ(out.dropped_bytes, in.size() - out.bytes.size());
  // Sanitizing is idempotent.
  SanitizedImage again;
  ASSERT_EQ(SanitizeImage(out.bytes, kDefaultMaxImagePixels, &again, &why), ImageError::kOk);
  EXPECT_EQ(again.bytes, out.bytes);
}

TEST(ImageSanitizerTest, TruncatedOrCorruptJpegIsBad) {
  const std::string in = test::JpegWithExifGps();
  SanitizedImage out;
  std::string why;
  for (size_t cut : {size_t{3}, size_t{20}, in.size() / 2, in.size() - 2, in.size() - 1}) {
    EXPECT_EQ(SanitizeImage(in.substr(0, cut), kDefaultMaxImagePixels, &out, &why),
              ImageError::kBadImage)
        << "cut at " << cut;
  }
  std::string no_frame = test::JpegWithExifGps(false);
  const size_t sof = no_frame.find("\xff\xc0");
  no_frame[sof + 1] = '\xc4';  // the SOF becomes a DHT: no frame header
  EXPECT_EQ(SanitizeImage(no_frame, kDefaultMaxImagePixels, &out, &why), ImageError::kBadImage);
}

TEST(ImageSanitizerTest, PngLosesTextAndTimeChunksWithCrcsIntact) {
  const std::string in = test::PngWithText();
  SanitizedImage out;
  std::string why;
  ASSERT_EQ(SanitizeImage(in, kDefaultMaxImagePixels, &out, &why), ImageError::kOk) << why;
  EXPECT_EQ(out.type, ImageType::kPng);
  EXPECT_EQ(out.width, 1u);
  EXPECT_EQ(out.height, 1u);
  EXPECT_EQ(out.bytes.find("tEXt"), std::string::npos);
  EXPECT_EQ(out.bytes.find("secret"), std::string::npos);
  EXPECT_EQ(out.bytes.find("tIME"), std::string::npos);
  EXPECT_EQ(out.bytes, test::PngWithText(/*metadata=*/false));
  // A flipped bit anywhere in a chunk breaks its CRC.
  std::string flipped = in;
  flipped[in.find("IDAT") + 6] ^= 1;
  EXPECT_EQ(SanitizeImage(flipped, kDefaultMaxImagePixels, &out, &why), ImageError::kBadImage);
  EXPECT_NE(why.find("CRC"), std::string::npos) << why;
  EXPECT_EQ(SanitizeImage(in.substr(0, in.size() - 5), kDefaultMaxImagePixels, &out, &why),
            ImageError::kBadImage);
}

TEST(ImageSanitizerTest, PixelLimitFromTheHeader) {
  SanitizedImage out;
  std::string why;
  EXPECT_EQ(SanitizeImage(test::Png(10000, 5000), kDefaultMaxImagePixels, &out, &why),
            ImageError::kTooLarge);
  EXPECT_NE(why.find("10000 x 5000"), std::string::npos) << why;
  EXPECT_EQ(SanitizeImage(test::Png(8000, 5000), kDefaultMaxImagePixels, &out, &why),
            ImageError::kOk)
      << why;
  EXPECT_EQ(SanitizeImage(test::JpegWithExifGps(), 100, &out, &why), ImageError::kTooLarge);
}

TEST(ImageSanitizerTest, WebpLosesExifAndXmpAndItsFlags) {
  const std::string in = test::WebpWithExif();
  SanitizedImage out;
  std::string why;
  ASSERT_EQ(SanitizeImage(in, kDefaultMaxImagePixels, &out, &why), ImageError::kOk) << why;
  EXPECT_EQ(out.type, ImageType::kWebp);
  EXPECT_EQ(out.width, 640u);
  EXPECT_EQ(out.height, 480u);
  EXPECT_EQ(out.bytes.find("EXIF"), std::string::npos);
  EXPECT_EQ(out.bytes.find("XMP "), std::string::npos);
  EXPECT_EQ(out.bytes.find(test::kGpsMarker), std::string::npos);
  // VP8X flags: alpha (0x10) stays; ICC (0x20), EXIF (0x08) and XMP (0x04) are cleared.
  EXPECT_EQ(static_cast<uint8_t>(out.bytes[20]), 0x10);
  // The RIFF size is the file size - 8.
  const uint32_t riff = static_cast<uint8_t>(out.bytes[4]) |
                        (static_cast<uint8_t>(out.bytes[5]) << 8) |
                        (static_cast<uint8_t>(out.bytes[6]) << 16) |
                        (static_cast<uint32_t>(static_cast<uint8_t>(out.bytes[7])) << 24);
  EXPECT_EQ(riff, out.bytes.size() - 8);
  EXPECT_EQ(SanitizeImage(in.substr(0, in.size() - 3), kDefaultMaxImagePixels, &out, &why),
            ImageError::kBadImage);
}

// Finding 6 of issue 19, probed from outside: GPS inside a JFXX APP0 thumbnail, a PNG private
// chunk with GPS text, and HTML in APP0 and in an unknown WebP chunk survived sanitizing, which
// dropped a list of known metadata and copied the rest. Only an allow-list survives now, and
// APP0/APP14/VP8X/ANIM are written afresh from their numeric fields: each image comes out as
// its builder without metadata, byte for byte, and with none of the planted bytes.
TEST(ImageSanitizerTest, Finding6_OnlyAllowListedPartsSurviveAndApp0IsRebuilt) {
  struct Image {
    std::string name, in, want;
  };
  const Image images[] = {
      {"jpeg", test::JpegWithExifGps() + "trailing GPS 29.56N", test::JpegWithExifGps(false)},
      {"png", test::PngWithText() + "trailing GPS 29.56N", test::PngWithText(false)},
      {"webp", test::WebpWithExif(), test::WebpWithExif(false)},
      {"animated webp", test::AnimatedWebp(), test::AnimatedWebp(false)},
  };
  for (const Image& image : images) {
    SCOPED_TRACE(image.name);
    SanitizedImage out;
    std::string why;
    ASSERT_EQ(SanitizeImage(image.in, kDefaultMaxImagePixels, &out, &why), ImageError::kOk) << why;
    EXPECT_EQ(out.bytes, image.want);
    for (const std::string& planted : {test::kGpsMarker, std::string("GPS"), std::string("<script"),
                                      std::string("<html"), std::string("<b>"),
                                      std::string("<x:"), std::string("secret"),
                                      std::string("张三")})
      EXPECT_EQ(out.bytes.find(planted), std::string::npos) << planted;
    SanitizedImage again;
    ASSERT_EQ(SanitizeImage(out.bytes, kDefaultMaxImagePixels, &again, &why), ImageError::kOk);
    EXPECT_EQ(again.bytes, out.bytes);
  }
}

// The tables a decoder reads have the size their fields give: bytes hidden after the tables of
// a DQT, DHT, DRI or SOS header are refused (decoders refuse them too).
TEST(ImageSanitizerTest, Finding6_JpegTablesWithTrailingBytesAreRefused) {
  const std::string good = test::JpegWithExifGps(false);
  for (const char* marker : {"\xff\xdb", "\xff\xc4", "\xff\xda"}) {
    std::string in = good;
    const size_t at = in.find(marker);
    ASSERT_NE(at, std::string::npos);
    const uint32_t len = (static_cast<uint8_t>(in[at + 2]) << 8 | static_cast<uint8_t>(in[at + 3]));
    in.insert(at + 2 + len, "GPS");
    in[at + 2] = static_cast<char>((len + 3) >> 8);
    in[at + 3] = static_cast<char>((len + 3) & 0xff);
    SanitizedImage out;
    std::string why;
    EXPECT_EQ(SanitizeImage(in, kDefaultMaxImagePixels, &out, &why), ImageError::kBadImage)
        << marker;
  }
}

TEST(ImageSanitizerTest, TypeIsTheContentsNotTheName) {
  EXPECT_EQ(SniffImageType(test::PngWithText()), ImageType::kPng);
  EXPECT_EQ(SniffImageType(test::JpegWithExifGps()), ImageType::kJpeg);
  EXPECT_EQ(SniffImageType(test::WebpWithExif()), ImageType::kWebp);
  EXPECT_EQ(SniffImageType("GIF89a......"), ImageType::kUnknown);
  SanitizedImage out;
  std::string why;
  EXPECT_EQ(SanitizeImage("<html><script>alert(1)</script>", kDefaultMaxImagePixels, &out, &why),
            ImageError::kUnsupported);
  EXPECT_EQ(SanitizeImage("", kDefaultMaxImagePixels, &out, &why), ImageError::kUnsupported);
  EXPECT_EQ(ImageTypeFromMime("image/JPEG; q=1"), ImageType::kJpeg);
  EXPECT_EQ(ImageTypeFromMime("image/gif"), ImageType::kUnknown);
}

// Seeded random mutations of the three images (flips, truncations, insertions, length fields
// overwritten): every answer is one of the four results, never a crash or an exception; an
// accepted image sanitizes to itself and is no longer than its input.
TEST(ImageSanitizerTest, MutatedImagesAreAnsweredByContract) {
  std::mt19937 rng(20261122);
  const std::string seeds[] = {test::JpegWithExifGps(), test::PngWithText(), test::WebpWithExif(),
                               test::AnimatedWebp()};
  size_t ok = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string in = seeds[i % 4];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !in.empty(); ++e) {
      const size_t at = rng() % in.size();
      switch (rng() % 4) {
        case 0: in[at] = static_cast<char>(rng()); break;
        case 1: in.resize(at); break;
        case 2: in.insert(at, std::string(1 + rng() % 8, static_cast<char>(rng()))); break;
        case 3: in[at] = '\xff'; break;
      }
    }
    SanitizedImage out;
    std::string why;
    ImageError err = ImageError::kOk;
    ASSERT_NO_THROW(err = SanitizeImage(in, kDefaultMaxImagePixels, &out, &why)) << i;
    if (err != ImageError::kOk) {
      EXPECT_FALSE(why.empty()) << i;
      continue;
    }
    ++ok;
    EXPECT_LE(out.bytes.size(), in.size()) << i;
    SanitizedImage again;
    ASSERT_EQ(SanitizeImage(out.bytes, kDefaultMaxImagePixels, &again, &why), ImageError::kOk)
        << i << ": " << why;
    EXPECT_EQ(again.bytes, out.bytes) << i;
    EXPECT_EQ(again.type, out.type) << i;
  }
  EXPECT_GT(ok, 100u);  // the mutations do not only produce garbage
}

}  // namespace
}  // namespace yiwang::web
