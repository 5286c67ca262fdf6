// Where a gateway publishes sensor events in cluster mode (ingest/log_routing.h): subjects by
// the device alone, Msg-Ids by the events alone.

#include "ingest/log_routing.h"

#include <gtest/gtest.h>

#include <set>

namespace yiwang::ingest {
namespace {

DistrictLookup ByIdCode() {
  return {.of_device = [](std::string_view id) -> std::string {
            // "cq-septic-500103-0001" -> "500103", as the dispatcher's rules read a code.
            const size_t dash = id.rfind('-');
            const size_t before = dash == std::string_view::npos ? dash : id.rfind('-', dash - 1);
            if (before == std::string_view::npos) return "";
            return std::string(id.substr(before + 1, dash - before - 1));
          },
          .of_point = [](double, double) { return std::string("500105"); }};
}

TEST(LogRoutingTest, ADeviceWithADistrictGoesToThatDistrictsSubject) {
  EXPECT_EQ(EventSubject("cq-septic-500103-0001", ByIdCode()), "yw.ev.d.500103");
  EXPECT_EQ(EventSubject("cq-cover-500105-0002", ByIdCode()), "yw.ev.d.500105");
}

TEST(LogRoutingTest, OtherDevicesGoToAStableHashBucketNeverByTheirPoint) {
  const DistrictLookup none{.of_device = [](std::string_view) { return std::string(); },
                            .of_point = [](double, double) { return std::string("500105"); }};
  const std::string s = EventSubject("tree-0042", none);
  EXPECT_TRUE(s.starts_with("yw.ev.h.")) << s;
  EXPECT_EQ(EventSubject("tree-0042", none), s) << "a function of the device alone";
  std::set<std::string> buckets;
  for (int i = 0; i < 2000; ++i) buckets.insert(EventSubject("tree-" + std::to_string(i), none));
  EXPECT_EQ(buckets.size(), kEventHashBuckets) << "ids spread over every bucket";
  EXPECT_EQ(EventSubject("tree-0042", DistrictLookup{}), s) << "no lookup: the same bucket";
}

TEST(LogRoutingTest, ADistrictThatIsNoSubjectTokenGoesToTheBucket) {
  for (const char* bad : {"50.0103", "5001*", ">", "a b", ""}) {
    const DistrictLookup odd{.of_device = [bad](std::string_view) { return std::string(bad); },
                             .of_point = {}};
    EXPECT_TRUE(EventSubject("dev-1", odd).starts_with("yw.ev.h.")) << bad;
  }
}

TEST(LogRoutingTest, TheMsgIdIsTheEventsWhateverTheirOrder) {
  const std::string a = EventsMsgId({{"dev-1", 7}, {"dev-2", 3}});
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(EventsMsgId({{"dev-2", 3}, {"dev-1", 7}}), a);
  EXPECT_NE(EventsMsgId({{"dev-1", 7}}), a);
  EXPECT_NE(EventsMsgId({{"dev-1", 8}, {"dev-2", 3}}), a);
  // The separator keeps ("dev-1", 17) and ("dev-11", 7) apart.
  EXPECT_NE(EventsMsgId({{"dev-1", 17}}), EventsMsgId({{"dev-11", 7}}));
}

}  // namespace
}  // namespace yiwang::ingest
