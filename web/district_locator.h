#pragma once
// DistrictLocator: which of Chongqing's 38 county-level districts a WGS-84 point lies in, from
// the converted district polygons the page build writes (web/static/data/
// chongqing-districts.geojson: a FeatureCollection of Polygon/MultiPolygon features with
// properties {code, name}, coordinates [lon, lat] in WGS-84; see web/ui/tools/build_map.mjs).
//
// Point in polygon by ray casting (even-odd rule, holes included), after a bounding-box test
// per district. The boundaries are quantised to ~100 m (1/1024 degree in the source data), so a
// point within ~100 m of a border may be placed in the neighbouring district; a point outside
// every polygon (the Yangtze's banks on a border, outside the city) has no district.
//
// Thread safety: immutable after Load; Locate may be called from any thread concurrently.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace yiwang::web {

struct DistrictHit {
  std::string code;  // GB/T 2260, e.g. "500103"
  std::string name;  // e.g. "渝中区"
};

class DistrictLocator {
 public:
  // Parses a GeoJSON FeatureCollection (the format above). InvalidArgument naming the feature
  // on a malformed one; an empty collection is InvalidArgument too.
  [[nodiscard]] static Status Parse(std::string_view geojson, DistrictLocator* out);
  // Reads and parses `path`. NotFound if the file cannot be read.
  [[nodiscard]] static Status Load(const std::string& path, DistrictLocator* out);

  // The district containing (lat, lon), or nullopt.
  std::optional<DistrictHit> Locate(double lat, double lon) const;
  // Whether (lat, lon) lies in district `code`, or within about `tolerance_m` of it (one of
  // eight points on a circle of that radius around it does): a point on a border may be
  // given either side's district, the boundaries being quantised. False for an unknown code.
  bool InOrNear(double lat, double lon, std::string_view code, double tolerance_m) const;
  // Whether the map draws district `code`.
  bool Has(std::string_view code) const;

  bool empty() const { return districts_.empty(); }
  size_t size() const { return districts_.size(); }

 private:
  struct Ring {
    std::vector<std::pair<double, double>> points;  // (lon, lat)
  };
  struct District {
    DistrictHit hit;
    double min_lon, min_lat, max_lon, max_lat;
    std::vector<Ring> rings;  // outer rings and holes of every polygon (even-odd)
  };
  static bool Contains(const District& d, double lat, double lon);

  std::vector<District> districts_;
};

}  // namespace yiwang::web
