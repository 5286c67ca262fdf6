#pragma once
// A well-formedness check of the XML documents the server writes (Open311), written from the
// XML 1.0 specification (fifth edition) because no XML parser is among the dependencies: the
// Open311 tests and the open311 fuzz target judge every document with it.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/text.h"

namespace yiwang::test {

// XML 1.0 section 2.2, production [2] Char: the code points a document may hold at all.
inline bool IsXmlChar(uint32_t c) {
  return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
         (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

// The UTF-8 bytes of `cp` (< 0x110000) by the bit pattern alone: a surrogate gives its
// three-byte form, which is not well-formed UTF-8 (what a careless encoder would produce).
inline std::string Utf8Of(uint32_t cp) {
  std::string s;
  auto put = [&](uint32_t v) { s += static_cast<char>(v); };
  if (cp < 0x80) {
    put(cp);
  } else if (cp < 0x800) {
    put(0xc0 | (cp >> 6));
    put(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    put(0xe0 | (cp >> 12));
    put(0x80 | ((cp >> 6) & 0x3f));
    put(0x80 | (cp & 0x3f));
  } else {
    put(0xf0 | (cp >> 18));
    put(0x80 | ((cp >> 12) & 0x3f));
    put(0x80 | ((cp >> 6) & 0x3f));
    put(0x80 | (cp & 0x3f));
  }
  return s;
}

namespace internal {

// The code point of the well-formed UTF-8 sequence of `n` bytes at x[i].
inline uint32_t CodePointAt(std::string_view x, size_t i, size_t n) {
  const auto b = [&](size_t k) { return static_cast<uint32_t>(static_cast<uint8_t>(x[i + k])); };
  if (n == 1) return b(0);
  if (n == 2) return (b(0) & 0x1f) << 6 | (b(1) & 0x3f);
  if (n == 3) return (b(0) & 0x0f) << 12 | (b(1) & 0x3f) << 6 | (b(2) & 0x3f);
  return (b(0) & 0x07) << 18 | (b(1) & 0x3f) << 12 | (b(2) & 0x3f) << 6 | (b(3) & 0x3f);
}

inline bool IsNameChar(char c, bool first) {
  const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  return letter || (!first && ((c >= '0' && c <= '9') || c == '-' || c == '.'));
}

// The length of the reference at x[i] ('&'): one of the five predefined entities or a
// character reference to a Char; 0 if it is none.
inline size_t ReferenceAt(std::string_view x, size_t i) {
  for (std::string_view e : {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"})
    if (x.substr(i, e.size()) == e) return e.size();
  if (x.substr(i, 2) != "&#") return 0;
  const bool hex = x.substr(i, 3) == "&#x";
  size_t j = i + (hex ? 3 : 2);
  uint64_t cp = 0;
  const size_t digits_from = j;
  for (; j < x.size() && j - digits_from < 8; ++j) {
    const char c = x[j];
    int d = -1;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
    if (d < 0) break;
    cp = cp * (hex ? 16 : 10) + static_cast<uint64_t>(d);
  }
  if (j == digits_from || j >= x.size() || x[j] != ';' || !IsXmlChar(static_cast<uint32_t>(cp)))
    return 0;
  return j + 1 - i;
}

}  // namespace internal

// "" if `x` is a well-formed XML 1.0 document of the shape the server writes, else what is
// wrong and at which byte: the declaration <?xml version="1.0" encoding="utf-8"?>; the rest
// well-formed UTF-8 of Chars only; one root element; start, end and empty-element tags
// without attributes, properly nested; in text no '<', '&' only as a reference (above), and no
// '>' (the server's writers escape it, which also rules out "]]>").
inline std::string XmlProblem(std::string_view x) {
  constexpr std::string_view kDecl = R"(<?xml version="1.0" encoding="utf-8"?>)";
  if (!x.starts_with(kDecl)) return "no XML declaration";
  std::vector<std::string_view> open;
  bool root_seen = false;
  auto at = [](size_t i) { return " at byte " + std::to_string(i); };
  for (size_t i = kDecl.size(); i < x.size();) {
    const size_t n = Utf8SequenceAt(x, i);
    if (n == 0) return "not UTF-8" + at(i);
    if (!IsXmlChar(internal::CodePointAt(x, i, n))) return "not an XML Char" + at(i);
    const char c = x[i];
    if (c == '<') {
      const size_t end = x.find('>', i);
      if (end == std::string_view::npos) return "unterminated tag" + at(i);
      std::string_view tag = x.substr(i + 1, end - i - 1);
      const bool closing = tag.starts_with('/'), empty = tag.ends_with('/');
      if (closing) tag.remove_prefix(1);
      if (empty) tag.remove_suffix(1);
      if (tag.empty() || (closing && empty)) return "bad tag" + at(i);
      for (size_t k = 0; k < tag.size(); ++k)
        if (!internal::IsNameChar(tag[k], k == 0)) return "bad tag name" + at(i);
      if (closing) {
        if (open.empty() || open.back() != tag) return "unbalanced </" + std::string(tag) + ">" + at(i);
        open.pop_back();
      } else {
        if (open.empty() && root_seen) return "a second root element" + at(i);
        root_seen = true;
        if (!empty) open.push_back(tag);
      }
      i = end + 1;
      continue;
    }
    const bool space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (open.empty() && !space) return "text outside the root element" + at(i);
    if (c == '>') return "unescaped '>' in text" + at(i);
    if (c == '&') {
      const size_t ref = internal::ReferenceAt(x, i);
      if (ref == 0) return "bare '&' or a bad reference" + at(i);
      i += ref;
      continue;
    }
    i += n;
  }
  if (!root_seen || !open.empty()) return "unclosed element";
  return "";
}

}  // namespace yiwang::test
