// The cases on the live map: every open case matching the filters as a point, clustered by
// supercluster in a worker (js/cluster-worker.js) so that 100,000 points pan smoothly; only the
// clusters and single markers of the view are in the DOM. Markers are coloured by urgency and
// SLA state (on time / yellow / red; paused), sensor cases (alarming devices) are drawn as
// diamonds, and a case can be highlighted on its own above the clusters: 'flash' for a new
// alarm (a CSS animation), 'fresh' for a case just filed or changed.
//
// Points are [id, lat, lon, stateCode, urgencyCode, deadlineMs, flags] (GET
// /api/v1/cases/points); positions are WGS-84 and converted with base.toDisplay.

import { h } from './dom.js';
import { kUrgencies } from './console-texts.js';

export const kFlagSensor = 1;
export const kFlagPaused = 2;
export const kFlagYellow = 4;
export const kFlagRed = 8;
export const kFlagAlarming = 16;

const kLevelNames = ['none', 'on-time', 'yellow', 'red'];
const kRebuildDelayMs = 250;       // changes arriving together are indexed together
const kRelevelIntervalMs = 60000;  // deadlines pass: recompute the levels this often
const kHighlightMs = { flash: 60000, fresh: 60000 };

// 0 none, 1 on time, 2 yellow, 3 red (as the worker computes it).
export function pointLevel(p, nowMs) {
  const [, , , , , deadline, flags] = p;
  if (flags & kFlagPaused) return 1;
  if (flags & kFlagRed || (deadline > 0 && deadline < nowMs)) return 3;
  if (flags & kFlagYellow) return 2;
  return deadline > 0 ? 1 : 0;
}

export class CaseLayer {
  // base: createBaseMap's result; onSelect(id) when a case marker is clicked.
  constructor(base, { onSelect, clock = () => Date.now() }) {
    this.base = base;
    this.L = base.L;
    this.onSelect = onSelect;
    this.clock = clock;
    this.points = new Map();
    this.highlights = new Map();  // id -> {kind, until, marker}
    this.pending = { upsert: new Map(), remove: new Set() };
    this.rebuildTimer = null;
    this.seq = 0;
    this.expandSeq = new Map();
    this.ready = false;
    this.indexedListeners = [];
    this.clusterLayer = this.L.layerGroup().addTo(base.map);
    this.highlightLayer = this.L.layerGroup().addTo(base.map);
    this.worker = new Worker('/static/js/cluster-worker.js');
    this.worker.onmessage = ({ data }) => this.onWorker(data);
    this.worker.onerror = (e) => console.error(`cluster worker: ${e.message}`);
    base.map.on('moveend', () => this.query());
    this.relevel = setInterval(() => this.schedule(), kRelevelIntervalMs);
    this.element = base.map.getContainer();
  }

  get size() {
    return this.points.size;
  }

  // Replaces every point. Resolves once the worker has indexed them and the view is drawn.
  load(points) {
    this.points = new Map(points.map((p) => [p[0], p]));
    this.pending = { upsert: new Map(), remove: new Set() };
    clearTimeout(this.rebuildTimer);
    this.rebuildTimer = null;
    const indexed = this.nextIndexed();
    this.worker.postMessage({ type: 'load', points, nowMs: this.clock() });
    return indexed;
  }

  upsert(p) {
    this.points.set(p[0], p);
    this.pending.remove.delete(p[0]);
    this.pending.upsert.set(p[0], p);
    this.schedule();
    const hl = this.highlights.get(p[0]);
    if (hl) this.drawHighlight(p[0], hl.kind, hl.until);
  }

  remove(id) {
    if (!this.points.delete(id)) return;
    this.pending.upsert.delete(id);
    this.pending.remove.add(id);
    this.schedule();
    this.unhighlight(id);
  }

  has(id) {
    return this.points.has(id);
  }

  // Draws case `id` on its own above the clusters for a while ('flash' or 'fresh').
  highlight(id, kind) {
    this.drawHighlight(id, kind, this.clock() + kHighlightMs[kind]);
  }

  drawHighlight(id, kind, until) {
    const old = this.highlights.get(id);
    if (old?.marker) this.highlightLayer.removeLayer(old.marker);
    clearTimeout(old?.timer);
    const p = this.points.get(id);
    const entry = { kind, until, marker: null, timer: null };
    if (p) {
      entry.marker = this.pointMarker(p, pointLevel(p, this.clock()), kind);
      entry.marker.setZIndexOffset(1000);
      this.highlightLayer.addLayer(entry.marker);
    }
    entry.timer = setTimeout(() => {
      this.unhighlight(id);
      this.query();
    }, Math.max(0, until - this.clock()));
    this.highlights.set(id, entry);
    this.query();
  }

  unhighlight(id) {
    const hl = this.highlights.get(id);
    if (!hl) return;
    clearTimeout(hl.timer);
    if (hl.marker) this.highlightLayer.removeLayer(hl.marker);
    this.highlights.delete(id);
  }

  destroy() {
    clearInterval(this.relevel);
    clearTimeout(this.rebuildTimer);
    for (const id of [...this.highlights.keys()]) this.unhighlight(id);
    this.worker.terminate();
    this.clusterLayer.remove();
    this.highlightLayer.remove();
  }

  schedule() {
    if (this.rebuildTimer) return;
    this.rebuildTimer = setTimeout(() => {
      this.rebuildTimer = null;
      this.worker.postMessage({
        type: 'change',
        upsert: [...this.pending.upsert.values()],
        remove: [...this.pending.remove],
        nowMs: this.clock(),
      });
      this.pending = { upsert: new Map(), remove: new Set() };
    }, kRebuildDelayMs);
  }

  nextIndexed() {
    return new Promise((resolve) => this.indexedListeners.push(resolve));
  }

  query() {
    if (!this.ready) return;
    const map = this.base.map;
    const b = map.getBounds();
    const [s, w] = this.base.fromDisplay(b.getSouth(), b.getWest());
    const [n, e] = this.base.fromDisplay(b.getNorth(), b.getEast());
    this.seq += 1;
    this.worker.postMessage({ type: 'query', seq: this.seq, bbox: [Math.max(-180, w), Math.max(-85, s),
                                                                   Math.min(180, e), Math.min(85, n)],
                              zoom: map.getZoom() });
  }

  onWorker(data) {
    if (data.type === 'indexed') {
      this.ready = true;
      this.element.dataset.points = String(data.count);
      this.element.dataset.indexMs = data.ms.toFixed(1);
      const seq = this.seq + 1;
      this.query();
      // Resolve once this view is drawn.
      const listeners = this.indexedListeners;
      this.indexedListeners = [];
      if (listeners.length) this.afterDraw(seq).then(() => listeners.forEach((r) => r(data)));
    } else if (data.type === 'clusters') {
      if (data.seq !== this.seq) return;  // a newer view was asked for
      this.draw(data.features);
      this.element.dataset.drawn = String(data.seq);
      for (const [seq, resolve] of this.drawWaiters ?? []) if (seq <= data.seq) resolve();
      this.drawWaiters = (this.drawWaiters ?? []).filter(([seq]) => seq > data.seq);
    } else if (data.type === 'expanded') {
      const target = this.expandSeq.get(data.seq);
      this.expandSeq.delete(data.seq);
      if (!target) return;
      const zoom = data.zoom < 0 ? this.base.map.getZoom() + 2 : data.zoom;
      this.base.map.flyTo(target, Math.min(zoom, this.base.map.getMaxZoom()), { duration: 0.4 });
    }
  }

  afterDraw(seq) {
    this.drawWaiters = this.drawWaiters ?? [];
    return new Promise((resolve) => this.drawWaiters.push([seq, resolve]));
  }

  // Draws the view's clusters and points, keeping the markers that did not change (a pan
  // mostly shows the same clusters again: no DOM churn for them).
  draw(features) {
    const next = new Map();
    for (const f of features) {
      if (f.c) {
        const key = `c${f.c.join(':')}`;  // position, count, id and colours
        next.set(key, this.drawn?.get(key) ?? this.clusterMarker(f.c));
      } else if (!this.highlights.has(f.p[0])) {
        const key = `p${f.p.join(':')}:${f.level}`;
        next.set(key, this.drawn?.get(key) ?? this.pointMarker(f.p, f.level, null));
      }
    }
    for (const [key, marker] of this.drawn ?? []) {
      if (!next.has(key)) this.clusterLayer.removeLayer(marker);
    }
    for (const [key, marker] of next) {
      if (!this.drawn?.has(key)) this.clusterLayer.addLayer(marker);
    }
    this.drawn = next;
  }

  pointMarker(p, level, highlight) {
    const [id, lat, lon, , urgency, , flags] = p;
    const classes = ['case-marker', `level-${kLevelNames[level]}`, `urgency-${kUrgencies[urgency] ?? 'none'}`];
    if (flags & kFlagSensor) classes.push('sensor');
    if (flags & kFlagSensor && flags & kFlagAlarming) classes.push('alarming');
    if (flags & kFlagPaused) classes.push('paused');
    if (highlight) classes.push(highlight);
    const el = h('span', { className: classes.join(' '), dataset: { caseId: id }, title: id });
    const icon = this.L.divIcon({ html: el, className: 'case-marker-icon', iconSize: [20, 20] });
    const marker = this.L.marker(this.base.toDisplay(lat, lon), { icon, keyboard: true, title: id });
    marker.on('click', () => this.onSelect(id));
    return marker;
  }

  clusterMarker([lon, lat, count, clusterId, red, yellow, alarms, urgency]) {
    const classes = ['case-cluster'];
    if (red) classes.push('has-red');
    else if (yellow) classes.push('has-yellow');
    if (alarms) classes.push('has-alarm');
    if (urgency >= 3) classes.push('has-emergency');
    const size = count < 10 ? 28 : count < 100 ? 34 : count < 1000 ? 40 : 48;
    const label = count >= 10000 ? `${Math.round(count / 1000)}k` : String(count);
    const el = h('span', { className: classes.join(' '), dataset: { count: String(count) } }, label);
    const icon = this.L.divIcon({ html: el, className: 'case-cluster-icon', iconSize: [size, size] });
    const at = this.base.toDisplay(lat, lon);
    const marker = this.L.marker(at, { icon });
    marker.on('click', () => {
      const seq = this.expandSeq.size + Date.now();
      this.expandSeq.set(seq, at);
      this.worker.postMessage({ type: 'expand', seq, clusterId });
    });
    return marker;
  }
}
