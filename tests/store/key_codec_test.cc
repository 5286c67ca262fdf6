// Key codec: big-endian fixed-width integers (byte order == numeric order, which is what
// RocksDB's bytewise comparator sees) and length-prefixed device ids (one device's keys never
// interleave with another's, even when one id is a prefix of the other).

#include "store/key_codec.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace yiwang::store {
namespace {

// RocksDB's default comparator: memcmp, then length.
int Bytewise(const std::string& a, const std::string& b) {
  const size_t n = std::min(a.size(), b.size());
  int r = std::memcmp(a.data(), b.data(), n);
  if (r != 0) return r;
  return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
}

int Numeric(uint64_t a, uint64_t b) { return a < b ? -1 : a > b ? 1 : 0; }

int Sign(int v) { return (v > 0) - (v < 0); }

std::vector<uint64_t> Interesting() {
  return {0,
          1,
          0x7f,
          0x80,
          0xff,
          0x100,
          0xffff,
          0x10000,
          0x7fffffff,
          0x80000000,
          0xffffffff,
          0x100000000ull,
          INT64_MAX,
          static_cast<uint64_t>(INT64_MAX) + 1,
          UINT64_MAX - 1,
          UINT64_MAX};
}

TEST(KeyCodecTest, Fixed64RoundTripsAndIsBigEndian) {
  std::string s;
  PutFixed64BE(&s, 0x0102030405060708ull);
  ASSERT_EQ(s.size(), 8u);
  EXPECT_EQ(s, std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_EQ(DecodeFixed64BE(s.data()), 0x0102030405060708ull);

  std::mt19937_64 rng(20240501);
  std::vector<uint64_t> values = Interesting();
  for (int i = 0; i < 10000; ++i) values.push_back(rng() >> (rng() % 64));
  for (uint64_t v : values) {
    std::string k;
    PutFixed64BE(&k, v);
    ASSERT_EQ(DecodeFixed64BE(k.data()), v);
  }
}

TEST(KeyCodecTest, PutFixed64AppendsToExistingBytes) {
  std::string s = "ab";
  PutFixed64BE(&s, 1);
  EXPECT_EQ(s, std::string("ab\0\0\0\0\0\0\0\x01", 10));
}

TEST(KeyCodecTest, EventKeyByteOrderEqualsNumericOrder) {
  std::mt19937_64 rng(7);
  std::vector<uint64_t> values = Interesting();
  for (int i = 0; i < 2000; ++i) {
    // Mix full-width values with small ones and neighbours, where byte-order bugs show.
    uint64_t v = rng();
    values.push_back(v);
    values.push_back(v >> (rng() % 64));
    values.push_back(v + 1);
  }
  for (size_t i = 0; i < values.size(); ++i) {
    for (size_t j : {(i + 1) % values.size(), static_cast<size_t>(rng() % values.size())}) {
      const uint64_t a = values[i], b = values[j];
      ASSERT_EQ(Sign(Bytewise(EventKey(a), EventKey(b))), Numeric(a, b)) << "a=" << a << " b=" << b;
    }
  }
}

TEST(KeyCodecTest, EventKeyRoundTrip) {
  for (uint64_t v : Interesting()) {
    std::string k = EventKey(v);
    ASSERT_EQ(k.size(), 8u);
    auto parsed = ParseEventKey(k);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, v);
  }
  EXPECT_FALSE(ParseEventKey("").has_value());
  EXPECT_FALSE(ParseEventKey("1234567").has_value());
  EXPECT_FALSE(ParseEventKey("123456789").has_value());
}

TEST(KeyCodecTest, DeviceSeqKeyOrdersBySeqWithinADevice) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 5000; ++i) {
    uint64_t a = rng() >> (rng() % 64), b = rng() >> (rng() % 64);
    ASSERT_EQ(Sign(Bytewise(DeviceSeqKey("cq-500105-0001", a), DeviceSeqKey("cq-500105-0001", b))),
              Numeric(a, b))
        << a << " vs " << b;
  }
}

TEST(KeyCodecTest, DeviceSeqKeyLayout) {
  std::string k = DeviceSeqKey("ab", 258);
  EXPECT_EQ(k, std::string("\x02"
                           "ab\0\0\0\0\0\0\x01\x02",
                           11));
  EXPECT_EQ(DeviceSeqPrefix("ab"), std::string("\x02"
                                               "ab",
                                               3));
  EXPECT_EQ(k.rfind(DeviceSeqPrefix("ab"), 0), 0u);
}

// "ab" is a prefix of "abc": without the length byte, ("ab", seq) keys whose first seq byte is
// 'c' would sort among "abc"'s keys and a prefix scan of "ab" would return "abc"'s events.
TEST(KeyCodecTest, DevicePrefixIsolation) {
  const std::vector<std::string> ids = {"a", "ab", "abc", "abd", "ab:", "b", "abc0"};
  std::mt19937_64 rng(3);
  std::vector<uint64_t> seqs = Interesting();
  for (int i = 0; i < 200; ++i) seqs.push_back(rng());
  // The seq whose first bytes spell "c" + ...: the collision a prefix-free codec would have.
  seqs.push_back(0x6300000000000001ull);
  for (const auto& x : ids) {
    const std::string px = DeviceSeqPrefix(x);
    const std::string lo = DeviceSeqKey(x, 0), hi = DeviceSeqKey(x, UINT64_MAX);
    for (const auto& y : ids) {
      if (x == y) continue;
      for (uint64_t s : seqs) {
        const std::string ky = DeviceSeqKey(y, s);
        ASSERT_NE(ky.rfind(px, 0), 0u)
            << "key of '" << y << "' starts with the prefix of '" << x << "'";
        // And no key of y falls inside x's key range: x's keys are contiguous.
        const bool inside = Bytewise(lo, ky) <= 0 && Bytewise(ky, hi) <= 0;
        ASSERT_FALSE(inside) << "'" << y << "' seq " << s << " inside the range of '" << x << "'";
      }
    }
  }
}

TEST(KeyCodecTest, DeviceSeqKeyRoundTrip) {
  const std::string max_id(kMaxDeviceIdLength, 'z');
  for (const std::string& id : {std::string("d"), std::string("cq-500105-0001"), max_id}) {
    for (uint64_t seq : Interesting()) {
      std::string k = DeviceSeqKey(id, seq);
      ASSERT_EQ(k.size(), 1 + id.size() + 8);
      auto parsed = ParseDeviceSeqKey(k);
      ASSERT_TRUE(parsed.has_value());
      EXPECT_EQ(parsed->device_id, id);
      EXPECT_EQ(parsed->seq, seq);
    }
  }
}

TEST(KeyCodecTest, ParseDeviceSeqKeyRejectsBadKeys) {
  EXPECT_FALSE(ParseDeviceSeqKey("").has_value());
  std::string good = DeviceSeqKey("abc", 5);
  EXPECT_FALSE(ParseDeviceSeqKey(good.substr(0, good.size() - 1)).has_value());  // short
  EXPECT_FALSE(ParseDeviceSeqKey(good + "x").has_value());                       // long
  std::string bad_len = good;
  bad_len[0] = static_cast<char>(kMaxDeviceIdLength + 1);
  EXPECT_FALSE(ParseDeviceSeqKey(bad_len).has_value());
  std::string huge_len = good;
  huge_len[0] = static_cast<char>(0xff);
  EXPECT_FALSE(ParseDeviceSeqKey(huge_len).has_value());
}

}  // namespace
}  // namespace yiwang::store
