// Clusters the map's case points off the main thread (a classic worker: supercluster ships a
// UMD build). The page sends the points once and then changes; the worker answers the clusters
// of a view. Messages in:
//   {type: 'load', points, nowMs}            replace every point
//   {type: 'change', upsert: [point], remove: [id], nowMs}   apply changes, rebuild once
//   {type: 'query', seq, bbox: [w, s, e, n], zoom}            -> {type: 'clusters', seq, features}
//   {type: 'expand', seq, clusterId}                          -> {type: 'expanded', seq, zoom}
// and out, after each (re)build: {type: 'indexed', count, ms}.
// A point is [id, lat, lon, stateCode, urgencyCode, deadlineMs, flags] as GET
// /api/v1/cases/points returns it (WGS-84; the page converts bboxes and positions for display).

/* global Supercluster */
importScripts('/static/lib/supercluster/supercluster.min.js');

const kPaused = 2;
const kYellow = 4;
const kRed = 8;
const kSensor = 1;
const kAlarming = 16;

const points = new Map();  // id -> point
let index = null;

// 0 none, 1 on time, 2 yellow, 3 red (paused counts as on time).
function level(p, nowMs) {
  const [, , , , , deadline, flags] = p;
  if (flags & kPaused) return 1;
  if (flags & kRed || (deadline > 0 && deadline < nowMs)) return 3;
  if (flags & kYellow) return 2;
  return deadline > 0 ? 1 : 0;
}

function build(nowMs) {
  const start = performance.now();
  const features = [];
  for (const p of points.values()) {
    features.push({
      type: 'Feature',
      geometry: { type: 'Point', coordinates: [p[2], p[1]] },
      properties: { p, level: level(p, nowMs) },
    });
  }
  index = new Supercluster({
    radius: 48,
    maxZoom: 16,
    map: (props) => ({
      red: props.level === 3 ? 1 : 0,
      yellow: props.level === 2 ? 1 : 0,
      alarms: props.p[6] & kSensor && props.p[6] & kAlarming ? 1 : 0,
      urgency: props.p[4],
    }),
    reduce: (acc, props) => {
      acc.red += props.red;
      acc.yellow += props.yellow;
      acc.alarms += props.alarms;
      acc.urgency = Math.max(acc.urgency, props.urgency);
    },
  }).load(features);
  postMessage({ type: 'indexed', count: features.length, ms: performance.now() - start });
}

onmessage = ({ data }) => {
  if (data.type === 'load') {
    points.clear();
    for (const p of data.points) points.set(p[0], p);
    build(data.nowMs);
  } else if (data.type === 'change') {
    for (const id of data.remove) points.delete(id);
    for (const p of data.upsert) points.set(p[0], p);
    build(data.nowMs);
  } else if (data.type === 'query') {
    const features = index ? index.getClusters(data.bbox, Math.round(data.zoom)) : [];
    // Only what the page draws: clusters as [lon, lat, count, id, red, yellow, alarms, urgency];
    // single points as their point row plus their level.
    const out = features.map((f) => (f.properties.cluster
      ? { c: [f.geometry.coordinates[0], f.geometry.coordinates[1], f.properties.point_count,
              f.properties.cluster_id, f.properties.red, f.properties.yellow,
              f.properties.alarms, f.properties.urgency] }
      : { p: f.properties.p, level: f.properties.level }));
    postMessage({ type: 'clusters', seq: data.seq, features: out });
  } else if (data.type === 'expand') {
    let zoom = 16;
    try {
      zoom = index.getClusterExpansionZoom(data.clusterId);
    } catch {
      // The index was rebuilt meanwhile and the cluster is gone: zoom in a step instead.
      zoom = -1;
    }
    postMessage({ type: 'expanded', seq: data.seq, zoom });
  }
};
