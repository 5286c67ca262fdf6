// The district map build step (web/ui/tools/build_map.mjs): ECharts' ring decoding against a
// reference encoder, and the converted file the build wrote (38 districts, exactly the
// dispatcher's district codes, WGS-84 inside Chongqing, landmarks in the right district).
// Run by ctest (label unit) with YIWANG_STATIC_DIR set to build/web/static.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { decodeRing, decodeGeometry } = await import(join(repo, 'web/ui/tools/build_map.mjs'));
const staticDir = process.env.YIWANG_STATIC_DIR ?? join(repo, 'build', 'web', 'static');
const mapSource = process.env.YIWANG_MAP_SOURCE ?? join(repo, '.cache', 'map-data', 'chongqing.geojson');

// The inverse of ECharts' decoding: quantise, delta, zig-zag, +64.
function encodeRing(points, scale = 1024) {
  const q = points.map(([x, y]) => [Math.round(x * scale), Math.round(y * scale)]);
  const offsets = q[0];
  let [px, py] = offsets;
  let out = '';
  for (const [x, y] of q) {
    const dx = x - px;
    const dy = y - py;
    px = x;
    py = y;
    const zz = (v) => (v << 1) ^ (v >> 31);
    out += String.fromCharCode(zz(dx) + 64, zz(dy) + 64);
  }
  return { encoded: out, offsets };
}

test('decodeRing inverts the encoder', () => {
  const ring = [[106.5, 29.5], [106.51, 29.52], [106.49, 29.53], [106.47, 29.49], [106.5, 29.5]];
  const { encoded, offsets } = encodeRing(ring);
  const decoded = decodeRing(encoded, offsets, 1024);
  assert.equal(decoded.length, ring.length);
  decoded.forEach(([x, y], i) => {
    assert.ok(Math.abs(x - ring[i][0]) <= 0.5 / 1024, `x ${i}`);
    assert.ok(Math.abs(y - ring[i][1]) <= 0.5 / 1024, `y ${i}`);
  });
  assert.throws(() => decodeRing('abc', offsets, 1024), /even length/);
  assert.throws(() => decodeRing('ab', [1], 1024), /encodeOffsets/);
});

test('decodeGeometry handles Polygon and MultiPolygon', () => {
  const a = encodeRing([[1, 1], [2, 1], [2, 2], [1, 1]]);
  const b = encodeRing([[5, 5], [6, 5], [6, 6], [5, 5]]);
  const poly = decodeGeometry({ type: 'Polygon', coordinates: [a.encoded], encodeOffsets: [a.offsets] }, 1024);
  assert.deepEqual(poly.coordinates, [[[1, 1], [2, 1], [2, 2], [1, 1]]]);
  const multi = decodeGeometry({
    type: 'MultiPolygon',
    coordinates: [[a.encoded], [b.encoded]],
    encodeOffsets: [[a.offsets], [b.offsets]],
  }, 1024);
  assert.deepEqual(multi.coordinates[1], [[[5, 5], [6, 5], [6, 6], [5, 5]]]);
  assert.throws(() => decodeGeometry({ type: 'Point', coordinates: 'ab', encodeOffsets: [0, 0] }, 1024),
                /unexpected geometry type/);
});

function inRing([x, y], ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}
function districtOf(geojson, lon, lat) {
  return geojson.features.find((f) => {
    const ps = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates;
    return ps.some((p) => inRing([lon, lat], p[0]) && !p.slice(1).some((h) => inRing([lon, lat], h)));
  })?.properties.code;
}

test('the built district map is sane WGS-84 GeoJSON', () => {
  const geojson = JSON.parse(readFileSync(join(staticDir, 'data', 'chongqing-districts.geojson'), 'utf8'));
  const config = JSON.parse(readFileSync(join(repo, 'dispatcher', 'default_config.json'), 'utf8'));
  assert.equal(geojson.type, 'FeatureCollection');
  assert.equal(geojson.features.length, 38);
  const codes = geojson.features.map((f) => f.properties.code).sort();
  assert.deepEqual(codes, config.districts.map((d) => d.code).sort());
  assert.ok(codes.includes('500155') && codes.includes('500156'));
  assert.ok(!codes.includes('500228') && !codes.includes('500232'));
  for (const f of geojson.features) {
    assert.deepEqual(Object.keys(f.properties).sort(), ['code', 'name']);
    assert.equal(f.properties.name, config.districts.find((d) => d.code === f.properties.code).nameZh);
  }
  const [minLon, minLat, maxLon, maxLat] = geojson.bbox;
  assert.ok(minLon > 105.2 && maxLon < 110.2 && minLat > 28.1 && maxLat < 32.3, `${geojson.bbox}`);
  // Landmarks (WGS-84) fall in their districts.
  assert.equal(districtOf(geojson, 106.5773, 29.5575), '500103');  // 解放碑, 渝中区
  assert.equal(districtOf(geojson, 106.4547, 29.7316), '500109');  // 北碚城区, 北碚区
  assert.equal(districtOf(geojson, 108.4088, 30.8078), '500101');  // 万州城区, 万州区
  const licence = readFileSync(join(staticDir, 'data', 'chongqing-districts.LICENSE.txt'), 'utf8');
  assert.match(licence, /AMap/);
  assert.match(licence, /GCJ-02 to WGS-84/);
});

// GCJ-02 lies east and south of WGS-84 in Chongqing by about (+0.0037, -0.0029) degrees: the
// built (WGS-84) points must sit west and north of the source's (GCJ-02) by that much.
test('the conversion goes from GCJ-02 to WGS-84, not the other way', () => {
  const source = JSON.parse(readFileSync(mapSource, 'utf8'));
  const built = JSON.parse(readFileSync(join(staticDir, 'data', 'chongqing-districts.geojson'), 'utf8'));
  const src = source.features.find((f) => String(f.id) === '500103');
  const [sx, sy] = decodeGeometry(src.geometry, 1024).coordinates[0][0];
  const [wx, wy] = built.features.find((f) => f.properties.code === '500103').geometry.coordinates[0][0];
  const dLon = wx - sx;
  const dLat = wy - sy;
  assert.ok(dLon < -0.003 && dLon > -0.0045, `lon shift ${dLon}`);
  assert.ok(dLat > 0.002 && dLat < 0.0037, `lat shift ${dLat}`);
});
