#pragma once
// A district map of one square district for the citizen and Open311 tests: "渝中区" (500103)
// around 解放碑, lat 29.5..29.6, lon 106.5..106.6, as the GeoJSON DistrictLocator::Parse reads.

namespace yiwang::test {

inline constexpr char kOneDistrictMap[] = R"({"type":"FeatureCollection","features":[
  {"type":"Feature","properties":{"code":"500103","name":"渝中区"},"geometry":{"type":"Polygon",
   "coordinates":[[[106.5,29.5],[106.6,29.5],[106.6,29.6],[106.5,29.6],[106.5,29.5]]]}}]})";

}  // namespace yiwang::test
