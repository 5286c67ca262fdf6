#include "web/district_locator.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include <boost/json.hpp>

namespace yiwang::web {

namespace json = boost::json;

namespace {

bool ParseRing(const json::value& v, std::vector<std::pair<double, double>>* out) {
  if (!v.is_array() || v.get_array().size() < 4) return false;
  for (const auto& p : v.get_array()) {
    if (!p.is_array() || p.get_array().size() < 2) return false;
    const auto& a = p.get_array();
    if (!a[0].is_number() || !a[1].is_number()) return false;
    out->emplace_back(a[0].to_number<double>(), a[1].to_number<double>());
  }
  return true;
}

}  // namespace

Status DistrictLocator::Parse(std::string_view geojson, DistrictLocator* out) {
  out->districts_.clear();
  boost::system::error_code ec;
  json::value doc = json::parse(geojson, ec);
  if (ec || !doc.is_object()) return Status::InvalidArgument("district map: not a JSON object");
  const json::value* features = doc.get_object().if_contains("features");
  if (!features || !features->is_array())
    return Status::InvalidArgument("district map: no features array");
  size_t index = 0;
  for (const auto& f : features->get_array()) {
    const std::string where = "district map: feature " + std::to_string(index++);
    if (!f.is_object()) return Status::InvalidArgument(where + " is not an object");
    const json::value* props = f.get_object().if_contains("properties");
    const json::value* geometry = f.get_object().if_contains("geometry");
    if (!props || !props->is_object() || !geometry || !geometry->is_object())
      return Status::InvalidArgument(where + ": no properties or geometry");
    const json::value* code = props->get_object().if_contains("code");
    const json::value* name = props->get_object().if_contains("name");
    if (!code || !code->is_string() || !name || !name->is_string())
      return Status::InvalidArgument(where + ": properties need code and name strings");
    District d;
    d.hit.code = std::string(code->get_string());
    d.hit.name = std::string(name->get_string());
    const json::value* type = geometry->get_object().if_contains("type");
    const json::value* coords = geometry->get_object().if_contains("coordinates");
    if (!type || !type->is_string() || !coords || !coords->is_array())
      return Status::InvalidArgument(where + ": bad geometry");
    std::vector<const json::value*> polygons;
    if (type->get_string() == "Polygon") {
      polygons.push_back(coords);
    } else if (type->get_string() == "MultiPolygon") {
      for (const auto& p : coords->get_array()) polygons.push_back(&p);
    } else {
      return Status::InvalidArgument(where + ": geometry must be a Polygon or MultiPolygon");
    }
    for (const json::value* polygon : polygons) {
      if (!polygon->is_array()) return Status::InvalidArgument(where + ": bad polygon");
      for (const auto& r : polygon->get_array()) {
        Ring ring;
        if (!ParseRing(r, &ring.points)) return Status::InvalidArgument(where + ": bad ring");
        d.rings.push_back(std::move(ring));
      }
    }
    if (d.rings.empty()) return Status::InvalidArgument(where + ": no rings");
    d.min_lon = d.min_lat = std::numeric_limits<double>::infinity();
    d.max_lon = d.max_lat = -std::numeric_limits<double>::infinity();
    for (const auto& r : d.rings) {
      for (auto [x, y] : r.points) {
        d.min_lon = std::min(d.min_lon, x);
        d.max_lon = std::max(d.max_lon, x);
        d.min_lat = std::min(d.min_lat, y);
        d.max_lat = std::max(d.max_lat, y);
      }
    }
    out->districts_.push_back(std::move(d));
  }
  if (out->districts_.empty()) return Status::InvalidArgument("district map: no features");
  return Status::Ok();
}

Status DistrictLocator::Load(const std::string& path, DistrictLocator* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), out);
}

bool DistrictLocator::Contains(const District& d, double lat, double lon) {
  if (lon < d.min_lon || lon > d.max_lon || lat < d.min_lat || lat > d.max_lat) return false;
  bool inside = false;
  for (const auto& r : d.rings) {
    const auto& p = r.points;
    for (size_t i = 0, j = p.size() - 1; i < p.size(); j = i++) {
      const auto [xi, yi] = p[i];
      const auto [xj, yj] = p[j];
      if ((yi > lat) != (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi)
        inside = !inside;
    }
  }
  return inside;
}

std::optional<DistrictHit> DistrictLocator::Locate(double lat, double lon) const {
  for (const auto& d : districts_)
    if (Contains(d, lat, lon)) return d.hit;
  return std::nullopt;
}

bool DistrictLocator::Has(std::string_view code) const {
  return std::any_of(districts_.begin(), districts_.end(),
                     [&](const District& d) { return d.hit.code == code; });
}

bool DistrictLocator::InOrNear(double lat, double lon, std::string_view code,
                               double tolerance_m) const {
  const auto d = std::find_if(districts_.begin(), districts_.end(),
                              [&](const District& x) { return x.hit.code == code; });
  if (d == districts_.end()) return false;
  if (Contains(*d, lat, lon)) return true;
  // The point and eight around it on a circle of `tolerance_m` (metres per degree: 111,320 of
  // latitude, times cos(lat) of longitude).
  constexpr double kMetresPerDegree = 111320.0;
  constexpr double kPi = 3.14159265358979323846;
  const double dlat = tolerance_m / kMetresPerDegree;
  const double dlon = dlat / std::max(std::cos(lat * kPi / 180), 0.01);
  for (int k = 0; k < 8; ++k) {
    const double a = k * kPi / 4;
    if (Contains(*d, lat + dlat * std::sin(a), lon + dlon * std::cos(a))) return true;
  }
  return false;
}

}  // namespace yiwang::web
