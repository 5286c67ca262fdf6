// RateLimiter (web/rate_limiter.h) on an injected clock: the fixed window, Retry-After
// seconds, the checks that count nothing (RetryAfter) and forget (Reset) that the sign-in
// throttle uses, and the bound on remembered keys.

#include "web/rate_limiter.h"

#include <gtest/gtest.h>

#include <string>

namespace yiwang::web {
namespace {

using namespace std::chrono_literals;

class RateLimiterTest : public ::testing::Test {
 protected:
  Clock clock() {
    return Clock([this] { return now_; });
  }
  std::chrono::system_clock::time_point now_{std::chrono::hours(24 * 365 * 50)};
};

TEST_F(RateLimiterTest, AdmitsUpToTheLimitInAWindowThenSaysHowLongToWait) {
  RateLimiter limiter(3, 60s, 100, clock());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Acquire("a"), 0u) << i;
  EXPECT_EQ(limiter.Acquire("a"), 60u);
  now_ += 20s;
  EXPECT_EQ(limiter.Acquire("a"), 40u);
  now_ += 39s + 500ms;
  EXPECT_EQ(limiter.Acquire("a"), 1u);  // rounded up, never 0 while refused
  // Another key has its own window.
  EXPECT_EQ(limiter.Acquire("b"), 0u);
  // The window (started by the first event) ends: a new one starts.
  now_ += 500ms;
  EXPECT_EQ(limiter.Acquire("a"), 0u);
}

TEST_F(RateLimiterTest, RetryAfterCountsNothing) {
  RateLimiter limiter(2, 60s, 100, clock());
  EXPECT_EQ(limiter.RetryAfter("a"), 0u);
  EXPECT_EQ(limiter.RetryAfter("a"), 0u);
  EXPECT_EQ(limiter.Acquire("a"), 0u);
  EXPECT_EQ(limiter.RetryAfter("a"), 0u);
  EXPECT_EQ(limiter.Acquire("a"), 0u);
  now_ += 15s;
  EXPECT_EQ(limiter.RetryAfter("a"), 45u);
  EXPECT_EQ(limiter.RetryAfter("a"), 45u);
  EXPECT_EQ(limiter.Acquire("a"), 45u);  // refused: still two counted
  now_ += 45s;
  EXPECT_EQ(limiter.RetryAfter("a"), 0u);  // the window ended
  EXPECT_EQ(limiter.Acquire("a"), 0u);
  EXPECT_EQ(limiter.RetryAfter("a"), 0u);  // one of two in the new window
}

TEST_F(RateLimiterTest, ResetForgetsAKey) {
  RateLimiter limiter(1, 60s, 100, clock());
  EXPECT_EQ(limiter.Acquire("a"), 0u);
  EXPECT_EQ(limiter.Acquire("b"), 0u);
  EXPECT_EQ(limiter.RetryAfter("a"), 60u);
  limiter.Reset("a");
  limiter.Reset("unknown");  // nothing to forget: fine
  EXPECT_EQ(limiter.RetryAfter("a"), 0u);
  EXPECT_EQ(limiter.Acquire("a"), 0u);
  EXPECT_EQ(limiter.Acquire("b"), 60u);  // untouched
}

TEST_F(RateLimiterTest, MemoryIsBoundedEndedWindowsFirst) {
  RateLimiter limiter(1, 60s, 10, clock());
  for (int i = 0; i < 10; ++i) EXPECT_EQ(limiter.Acquire("old" + std::to_string(i)), 0u);
  now_ += 30s;
  EXPECT_EQ(limiter.Acquire("young"), 0u);  // full: the earliest-started tenth is forgotten
  EXPECT_EQ(limiter.RetryAfter("young"), 60u);
  int remembered = 0;
  for (int i = 0; i < 10; ++i) remembered += limiter.RetryAfter("old" + std::to_string(i)) != 0;
  EXPECT_EQ(remembered, 9);
  // Once the old windows end they go first, and the young key stays refused.
  now_ += 30s;
  for (int i = 0; i < 8; ++i) EXPECT_EQ(limiter.Acquire("new" + std::to_string(i)), 0u);
  EXPECT_EQ(limiter.RetryAfter("young"), 30u);
}

}  // namespace
}  // namespace yiwang::web
