// DistrictLocator over the converted district map the page build installs
// (build/web/static/data/chongqing-districts.geojson), and over small hand-made polygons.

#include "web/district_locator.h"

#include <gtest/gtest.h>

namespace yiwang::web {
namespace {

TEST(DistrictLocatorTest, KnownPointsOfChongqing) {
  DistrictLocator loc;
  Status s = DistrictLocator::Load(YIWANG_DISTRICT_MAP, &loc);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(loc.size(), 38u);
  auto jfb = loc.Locate(29.5575, 106.5770);  // 解放碑
  ASSERT_TRUE(jfb);
  EXPECT_EQ(jfb->code, "500103");
  EXPECT_EQ(jfb->name, "渝中区");
  auto guanyinqiao = loc.Locate(29.5790, 106.5330);  // 观音桥, 江北区
  ASSERT_TRUE(guanyinqiao);
  EXPECT_EQ(guanyinqiao->code, "500105");
  auto wanzhou = loc.Locate(30.8078, 108.4083);  // 万州城区
  ASSERT_TRUE(wanzhou);
  EXPECT_EQ(wanzhou->code, "500101");
  EXPECT_FALSE(loc.Locate(39.9087, 116.3975));  // Beijing
  EXPECT_FALSE(loc.Locate(30.6586, 104.0648));  // Chengdu
  EXPECT_FALSE(loc.Locate(0, 0));
}

TEST(DistrictLocatorTest, HolesAndMultiPolygonsAndBadInput) {
  // A square with a square hole, and a MultiPolygon of two squares.
  const char* kMap = R"({"type":"FeatureCollection","features":[
    {"type":"Feature","properties":{"code":"1","name":"ring"},"geometry":{"type":"Polygon",
     "coordinates":[[[0,0],[10,0],[10,10],[0,10],[0,0]],[[4,4],[6,4],[6,6],[4,6],[4,4]]]}},
    {"type":"Feature","properties":{"code":"2","name":"two"},"geometry":{"type":"MultiPolygon",
     "coordinates":[[[[20,0],[21,0],[21,1],[20,1],[20,0]]],[[[30,0],[31,0],[31,1],[30,1],[30,0]]]]}},
    {"type":"Feature","properties":{"code":"3","name":"hole filler"},"geometry":{"type":"Polygon",
     "coordinates":[[[4,4],[6,4],[6,6],[4,6],[4,4]]]}}]})";
  DistrictLocator loc;
  ASSERT_TRUE(DistrictLocator::Parse(kMap, &loc).ok());
  EXPECT_EQ(loc.Locate(1, 1)->code, "1");       // lat 1, lon 1
  EXPECT_EQ(loc.Locate(5, 5)->code, "3");       // in the hole of 1, inside 3
  EXPECT_EQ(loc.Locate(0.5, 30.5)->code, "2");
  EXPECT_EQ(loc.Locate(0.5, 20.5)->code, "2");
  EXPECT_FALSE(loc.Locate(0.5, 25));
  EXPECT_FALSE(loc.Locate(11, 5));
  DistrictLocator bad;
  EXPECT_FALSE(DistrictLocator::Parse("[]", &bad).ok());
  EXPECT_FALSE(DistrictLocator::Parse(R"({"features":[]})", &bad).ok());
  EXPECT_FALSE(DistrictLocator::Parse(
                   R"({"features":[{"properties":{"code":"1","name":"x"},"geometry":{"type":"Point","coordinates":[1,2]}}]})",
                   &bad)
                   .ok());
  EXPECT_EQ(DistrictLocator::Load("/nonexistent/map.geojson", &bad).code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace yiwang::web
