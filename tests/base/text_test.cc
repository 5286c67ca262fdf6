// base/text.h, base/time.h, base/digest.h, base/file.h, base/clock.h.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "base/clock.h"
#include "base/digest.h"
#include "base/file.h"
#include "base/text.h"
#include "base/time.h"
#include "tests/support/xml_check.h"

namespace yiwang {
namespace {

TEST(Utf8Test, LengthCountsCodePointsAndRefusesInvalid) {
  EXPECT_EQ(Utf8Length(""), 0u);
  EXPECT_EQ(Utf8Length("abc"), 3u);
  EXPECT_EQ(Utf8Length("积水"), 2u);
  EXPECT_EQ(Utf8Length("\xf0\x9f\x98\x80"), 1u);
  EXPECT_FALSE(Utf8Length("\xff"));
  EXPECT_FALSE(Utf8Length("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(Utf8Length("\xe6\xb0"));          // truncated
  EXPECT_FALSE(Utf8Length("\xed\xa0\x80"));      // surrogate U+D800
  EXPECT_FALSE(Utf8Length("\xf4\x90\x80\x80"));  // beyond U+10FFFF
}

// Every code point encodes to a sequence IsValidUtf8 accepts, except the surrogates; and
// Utf8SequenceAt gives the sequence's length.
TEST(Utf8Test, EveryScalarValueIsValidAndNoSurrogateIs) {
  for (uint32_t cp = 0; cp <= 0x10ffff; ++cp) {
    const std::string s = test::Utf8Of(cp);
    const bool surrogate = cp >= 0xd800 && cp <= 0xdfff;
    ASSERT_EQ(IsValidUtf8(s), !surrogate) << std::hex << cp;
    ASSERT_EQ(Utf8SequenceAt(s, 0), surrogate ? 0 : s.size()) << std::hex << cp;
  }
}

// Finding 3 of issue 19: text that XML 1.0 cannot carry (U+FFFE U+FFFF in a report) was
// accepted and broke the Open311 XML feed. The one decision of what text may hold, over the
// whole code-point space: XML 1.0's Char production, less DEL, the C1 controls and the
// noncharacters; IsText and TextOnly follow it code point by code point.
TEST(TextTest, Finding3_TextIsXmlCharsLessControlsAndNoncharactersOverEveryCodePoint) {
  size_t allowed = 0;
  for (uint32_t cp = 0; cp <= 0x10ffff; ++cp) {
    const bool c1 = cp >= 0x7f && cp <= 0x9f;
    const bool nonchar = (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe;
    const bool want = test::IsXmlChar(cp) && !c1 && !nonchar;
    ASSERT_EQ(IsTextCodePoint(cp), want) << std::hex << cp;
    allowed += want;
    const std::string s = test::Utf8Of(cp);
    ASSERT_EQ(IsText(s), want) << std::hex << cp;
    ASSERT_EQ(IsText("ab" + s + "\xe7\xa7\xaf"), want) << std::hex << cp;
    const bool surrogate = cp >= 0xd800 && cp <= 0xdfff;
    const std::string replaced = surrogate ? "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" : "\xef\xbf\xbd";
    ASSERT_EQ(TextOnly("a" + s + "b"), "a" + (want ? s : replaced) + "b") << std::hex << cp;
  }
  // 0x10ffff + 1 code points less 29 controls, 2,048 surrogates, 33 DEL/C1, 66 noncharacters.
  EXPECT_EQ(allowed, 0x110000u - 29 - 2048 - 33 - 66);
  for (uint32_t cp : {0x110000u, 0x7fffffffu, 0xffffffffu}) EXPECT_FALSE(IsTextCodePoint(cp));
  EXPECT_TRUE(IsText(""));
  EXPECT_TRUE(IsText("积水 \t\r\n \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsText("\xc0\xaf"));             // overlong
  EXPECT_FALSE(IsText("\xe6\xb0"));             // truncated
  EXPECT_FALSE(IsText("\xf4\x90\x80\x80"));     // beyond U+10FFFF
  EXPECT_EQ(TextOnly("a\xe6\xb0"), "a\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_TRUE(IsText(TextOnly("\x01\xff\xef\xbf\xbe\xed\xa0\x80")));
}

TEST(Utf8Test, ValidUtf8ReplacesEachInvalidByteAndKeepsValidSequences) {
  EXPECT_EQ(ValidUtf8("plain 渝中区 \xf0\x9f\x98\x80"), "plain 渝中区 \xf0\x9f\x98\x80");
  EXPECT_EQ(ValidUtf8("a\xe9" "b"), "a\xef\xbf\xbd" "b");
  EXPECT_EQ(ValidUtf8("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd");      // overlong '/'
  EXPECT_EQ(ValidUtf8("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // surrogate
  EXPECT_EQ(ValidUtf8("\xf4\x90\x80\x80").size(), 12u);  // beyond U+10FFFF: 4 x U+FFFD
  EXPECT_EQ(ValidUtf8("\xe6\xb8"), "\xef\xbf\xbd\xef\xbf\xbd");      // truncated
}

TEST(TextTest, ControlCharsAsciiLowerAndHex) {
  EXPECT_FALSE(HasControlChars("渝中区 a-b"));
  EXPECT_TRUE(HasControlChars("a\nb"));
  EXPECT_TRUE(HasControlChars(std::string("a\0b", 3)));
  EXPECT_TRUE(HasControlChars("\x7f"));
  EXPECT_EQ(AsciiLower("LeAder-01 渝"), "leader-01 渝");
  EXPECT_EQ(Hex(std::string("\x00\x01\xab\xff", 4)), "0001abff");
  EXPECT_EQ(Hex(""), "");
}

TEST(TextTest, UnhexTakesExactlyPairsOfHexDigits) {
  EXPECT_EQ(Unhex("0001abff"), std::string("\x00\x01\xab\xff", 4));
  EXPECT_EQ(Unhex("ABcd"), "\xab\xcd");
  EXPECT_EQ(Unhex(""), "");
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  EXPECT_EQ(Unhex(Hex(all)), all);
  // What std::from_chars would take for a byte, and a hex byte is not.
  for (std::string_view bad : {"-1", "+1", " 1", "1 ", "0x", "g0", "0g", "abc", "-0ff"})
    EXPECT_EQ(Unhex(bad), std::nullopt) << bad;
}

TEST(TextTest, ParseDoubleTakesTheWholeFiniteNumberOnly) {
  EXPECT_EQ(ParseDouble("29.5628"), 29.5628);
  EXPECT_EQ(ParseDouble("-106.5"), -106.5);
  EXPECT_EQ(ParseDouble("1e3"), 1000.0);
  EXPECT_FALSE(ParseDouble(""));
  EXPECT_FALSE(ParseDouble(" 1"));
  EXPECT_FALSE(ParseDouble("1 "));
  EXPECT_FALSE(ParseDouble("+1"));
  EXPECT_FALSE(ParseDouble("1x"));
  EXPECT_FALSE(ParseDouble("nan"));
  EXPECT_FALSE(ParseDouble("inf"));
  EXPECT_FALSE(ParseDouble("1e999"));
}

TEST(TextTest, BearerTokenFollowsRfc7235) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bEaReR   abc  "), "abc");
  EXPECT_FALSE(BearerToken(""));
  EXPECT_FALSE(BearerToken("Bearer"));
  EXPECT_FALSE(BearerToken("Bearer "));
  EXPECT_FALSE(BearerToken("Bearer    "));
  EXPECT_FALSE(BearerToken("Basic abc"));
  EXPECT_FALSE(BearerToken("Bearerabc"));
}

TEST(DigestTest, Sha256KnownVector) {
  EXPECT_EQ(Hex(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256("").size(), 32u);
}

// Stored idempotency marks carry these fingerprints: a change of the function would make every
// resend of an event stored before it a replay (see base/digest.h).
TEST(DigestTest, Fnv1a64ValuesNeverChange) {
  EXPECT_EQ(Fnv1a64(""), 1469598103934665603ull);
  EXPECT_EQ(Fnv1a64("a"), 4953267810257967366ull);
  EXPECT_EQ(Fnv1a64("cq-500103-septic-0001"), Fnv1a64("cq-500103-septic-0001"));
  EXPECT_NE(Fnv1a64("ab"), Fnv1a64("ba"));
}

TEST(TimeTest, ProtoRoundTripAndRfc3339) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::milliseconds(1796652019250));
  EXPECT_EQ(FromProtoTime(ToProtoTime(t)), t);
  EXPECT_EQ(Rfc3339(t), "2026-12-07T14:00:19.250Z");
  EXPECT_EQ(UnixMillis(t), 1796652019250);
}

TEST(FileTest, ReadFirstLineTrimsAndReportsWhatIsWrong) {
  const std::string path = ::testing::TempDir() + "/base_text_test_first_line";
  std::string line;
  {
    std::ofstream(path) << "  ywa_token123 \r\nsecond\n";
  }
  ASSERT_TRUE(ReadFirstLine(path, &line).ok());
  EXPECT_EQ(line, "ywa_token123");
  {
    std::ofstream(path) << "\nsecond\n";
  }
  EXPECT_EQ(ReadFirstLine(path, &line).code(), Status::Code::kInvalidArgument);
  std::remove(path.c_str());
  EXPECT_EQ(ReadFirstLine(path, &line).code(), Status::Code::kNotFound);
}

TEST(ClockTest, SystemByDefaultInjectedWhenGiven) {
  const Clock system;
  EXPECT_FALSE(system.injected());
  const auto before = std::chrono::system_clock::now();
  EXPECT_GE(system.Now(), before);

  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1000));
  const Clock fake([&] { return now; });
  EXPECT_TRUE(fake.injected());
  const auto steady0 = fake.Steady();
  EXPECT_EQ(fake.NowMillis().time_since_epoch(), std::chrono::milliseconds(1000000));
  now += std::chrono::seconds(5);
  EXPECT_EQ(fake.Steady() - steady0, std::chrono::seconds(5));
}

}  // namespace
}  // namespace yiwang
