#include "dispatcher/condition_text.h"

#include <cmath>
#include <cstdio>

namespace yiwang::dispatcher {

namespace v1 = yiwang::v1;

std::string FormatNumber(double v, int decimals) {
  if (!std::isfinite(v)) return v != v ? "nan" : (v > 0 ? "inf" : "-inf");
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  std::string s(buf);
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string ConditionKey(const v1::AlarmCondition& c) {
  const char* op = "?";
  switch (c.comparator()) {
    case v1::COMPARATOR_GE:
      op = ">=";
      break;
    case v1::COMPARATOR_GT:
      op = ">";
      break;
    case v1::COMPARATOR_LE:
      op = "<=";
      break;
    case v1::COMPARATOR_LT:
      op = "<";
      break;
    case v1::COMPARATOR_IS_TRUE:
      return c.metric();
    default:
      break;
  }
  const std::string lhs = c.from_baseline() ? "|" + c.metric() + "-baseline|" : c.metric();
  // Six decimals: two thresholds that differ get different keys in any sane configuration.
  return lhs + op + FormatNumber(c.threshold(), 6);
}

}  // namespace yiwang::dispatcher
