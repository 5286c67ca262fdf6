// Benchmark of the live feed's delivery latency (not part of make test; docs/benchmarks.md,
// "Live feed delivery latency"): a sensor event ingested -> its case's marker on the console's map,
// with background sensor traffic. Prints one JSON line (progress on stderr).
//
//   make bench-live
//   node --experimental-websocket tests/browser/bench_live.mjs [--rate 1000] [--probes 60]
//        [--interval-ms 1000] [--devices 2000] [--warmup-s 10]
//
// (Node 20 needs --experimental-websocket for its WebSocket client; Node 22 has it anyway.)
//
// It starts `yiwang serve` (fresh temp data dir, 127.0.0.1:0, log level warn) and the simulator
// (`yiwang sim --rate R --anomaly-scale 0`: a fleet's normal readings at R events/s in total,
// so no alarms and no cases of its own), signs a dispatcher into the console in headless
// Chromium (1440x900, the whole city in view), and then sends probes one at a time, each
// `--interval-ms` after the previous one started: a manhole-cover reading with the lid open from
// a device never seen before, one JSON text frame on /ws/sensors. A lid open raises an alarm at
// once (the rule has no duration), which files a case, which the console draws as a new marker.
// Per probe, on one clock (Date.now() of this machine, read by the bench and by the page):
//
//   send --(ingest)--> ack --(server)--> the case's "case" message on the bench's own /ws/live
//   client ............................... the same message on the page's /ws/live socket
//   --(page script)--> the marker in the DOM (MutationObserver) --> the next animation frame
//
// "ack -> screen" (ack to that animation frame) is the headline; "ack -> live client" is the
// server's own share (the dispatcher reads the committed event back, judges it, files the case
// with one synced write, publishes) plus a loopback hop.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { binary, launchBrowser, startServer } from './harness.mjs';
import { signIn } from './operator_console.mjs';

const { values } = parseArgs({ options: {
  rate: { type: 'string', default: '1000' },
  probes: { type: 'string', default: '60' },
  'interval-ms': { type: 'string', default: '1000' },
  devices: { type: 'string', default: '2000' },
  'warmup-s': { type: 'string', default: '10' },
} });
for (const name of ['rate', 'probes', 'interval-ms', 'devices', 'warmup-s']) {
  if (!(Number(values[name]) >= 0) || (name !== 'warmup-s' && !(Number(values[name]) > 0))) {
    console.error(`bench_live: --${name} must be a positive number, not "${values[name]}"`);
    process.exit(2);
  }
}
const kRate = Number(values.rate);
const kProbes = Number(values.probes);
const kIntervalMs = Number(values['interval-ms']);
const kProbeTimeoutMs = 30000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg) => console.error(`bench_live: ${msg}`);

if (typeof WebSocket !== 'function') {
  console.error('bench_live: this Node has no WebSocket client: run it with --experimental-websocket ' +
                '(Node 20) or on Node 22 or later');
  process.exit(2);
}

// Resolves with the next message of `ws` (the acks of the probes' socket).
function nextMessage(ws, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack within ${timeoutMs} ms`)), timeoutMs);
    ws.addEventListener('message', (e) => {
      clearTimeout(timer);
      resolve({ msg: JSON.parse(e.data), at: Date.now() });
    }, { once: true });
  });
}

// Resolves with fn()'s value once it is truthy (polled every few ms), or rejects after timeoutMs.
async function until(fn, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await sleep(2);
  }
}

async function openSocket(url, token) {
  const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } });
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error(`cannot open ${url}`));
  });
  ws.onerror = null;
  return ws;
}

// Count, nearest-rank p50 and p95, max and mean of `samples`; the keys end in `unit`.
function stats(samples, unit = 'Ms') {
  const s = [...samples].sort((a, b) => a - b);
  if (!s.length) return { count: 0 };
  const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  return { count: s.length, [`p50${unit}`]: q(0.5), [`p95${unit}`]: q(0.95), [`max${unit}`]: s[s.length - 1],
           [`mean${unit}`]: +(s.reduce((a, b) => a + b, 0) / s.length).toFixed(1) };
}

// In the page, before its scripts: when each case message arrives on the page's /ws/live
// socket (a listener added when the socket is made runs before the page's onmessage), and when
// each case's first marker element is added to the map and the next frame after that.
function instrumentPage() {
  window.__liveAt = new Map();
  window.__markers = new Map();
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        const at = Date.now();
        if (typeof e.data !== 'string' || !e.data.startsWith('{"type":"case"')) return;
        const id = JSON.parse(e.data).case?.id;
        if (id && !window.__liveAt.has(id)) window.__liveAt.set(id, at);
      });
    }
  };
  const observe = () => {
    new MutationObserver((records) => {
      const at = Date.now();
      for (const r of records) {
        for (const n of r.addedNodes) {
          if (!(n instanceof Element)) continue;
          const found = n.matches('.case-marker') ? [n] : [...n.querySelectorAll('.case-marker')];
          for (const el of found) {
            const id = el.dataset.caseId;
            if (!id || window.__markers.has(id)) continue;
            const rec = { domAt: at, frameAt: null };
            window.__markers.set(id, rec);
            requestAnimationFrame(() => { rec.frameAt = Date.now(); });
          }
        }
      }
    }).observe(document.getElementById('map'), { childList: true, subtree: true });
  };
  document.addEventListener('DOMContentLoaded', observe);
}

async function main() {
  const server = await startServer();
  const children = [];
  let browser = null;
  try {
    const admin = readFileSync(join(server.dir, 'data', 'bootstrap-admin.token'), 'utf8').split('\n')[0].trim();
    const call = async (method, path, body) => {
      const res = await fetch(server.url + path, { method, body: body && JSON.stringify(body),
        headers: { Authorization: `Bearer ${admin}`, 'Content-Type': 'application/json' } });
      const data = await res.json().catch(() => null);
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(data)}`);
      return data;
    };
    await call('POST', '/api/v1/admin/users', { username: 'bench', password: 'bench password 1', role: 'dispatcher' });
    const { token: probeToken } = await call('POST', '/api/v1/admin/device-tokens',
                                             { name: 'bench-live-probes', devicePrefix: 'probe-' });

    // The bench's own live client: ticks (the background rate) and the probes' cases.
    const wsBase = server.url.replace(/^http/, 'ws');
    const live = await openSocket(`${wsBase}/ws/live`, admin);
    const ticks = [];
    const caseOf = new Map();  // probe device -> case id (from the alarm message)
    const caseAt = new Map();  // case id -> {at, createdMs} of its first case message
    live.addEventListener('message', (e) => {
      const at = Date.now();
      const msg = JSON.parse(e.data);
      if (msg.type === 'tick') ticks.push(Number(msg.eventsPerSecond ?? 0));
      if (msg.type === 'alarm' && msg.caseId && msg.alarm?.deviceId) caseOf.set(msg.alarm.deviceId, msg.caseId);
      if (msg.type === 'case' && msg.case?.id && !caseAt.has(msg.case.id))
        caseAt.set(msg.case.id, { at, createdMs: Number(msg.case.createdMs) });
    });

    // Background traffic.
    const sim = spawn(binary, ['sim', '--url', server.url, '--admin-token-file',
                               join(server.dir, 'data', 'bootstrap-admin.token'), '--rate', String(kRate),
                               '--devices', values.devices, '--districts', 'all', '--anomaly-scale', '0',
                               '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(sim);

    // The console, signed in, the live feed online.
    browser = await launchBrowser();
    const { page } = await signIn(browser, server, 'bench', 'bench password 1',
                                  { beforeLoad: (p) => p.addInitScript(instrumentPage) });
    page.on('pageerror', (e) => log(`page error: ${e}`));

    log(`warming up ${values['warmup-s']} s at ${kRate} events/s`);
    await sleep(Number(values['warmup-s']) * 1000);
    const ticksBefore = ticks.length;
    const load = { before: loadavg().map((l) => +l.toFixed(2)) };

    const sensors = await openSocket(`${wsBase}/ws/sensors`, probeToken);
    const rows = [];
    const lost = [];
    const run = Date.now().toString(36);
    for (let i = 0; i < kProbes; i++) {
      const started = Date.now();
      const deviceId = `probe-${run}-${i}`;
      // Central Chongqing (渝中, 江北, 南岸, 沙坪坝, 九龙坡), in view at the console's first zoom.
      const location = { lat: 29.50 + Math.random() * 0.12, lon: 106.45 + Math.random() * 0.15 };
      const ack = nextMessage(sensors, kProbeTimeoutMs);
      const sendAt = Date.now();
      sensors.send(JSON.stringify({ events: [{ deviceId, seq: 1, observedAt: new Date(sendAt).toISOString(),
                                               location, manholeCover: { lidOpen: true, tiltDeg: 1 } }] }));
      const acked = await ack;
      if (acked.msg.accepted !== 1) throw new Error(`probe refused: ${JSON.stringify(acked.msg)}`);
      try {
        const caseId = await until(() => caseOf.get(deviceId), kProbeTimeoutMs, `alarm of ${deviceId}`);
        const filed = await until(() => caseAt.get(caseId), kProbeTimeoutMs, `case ${caseId}`);
        await page.waitForFunction((id) => window.__markers.get(id)?.frameAt ?? false, caseId,
                                   { timeout: kProbeTimeoutMs, polling: 50 });
        const seen = await page.evaluate((id) => ({ liveAt: window.__liveAt.get(id), ...window.__markers.get(id) }),
                                         caseId);
        rows.push({ sendAt, ackAt: acked.at, liveClientAt: filed.at, createdMs: filed.createdMs, ...seen });
      } catch (err) {
        lost.push(`${deviceId}: ${err.message}`);
      }
      if ((i + 1) % 10 === 0) log(`${i + 1} probes`);
      await sleep(Math.max(0, started + kIntervalMs - Date.now()));
    }
    load.after = loadavg().map((l) => +l.toFixed(2));
    const background = ticks.slice(ticksBefore);
    sensors.close();
    live.close();

    const d = (key, from) => rows.filter((r) => r[key] && r[from]).map((r) => r[key] - r[from]);
    console.log(JSON.stringify({
      bench: 'live_feed_delivery', rate: kRate, probes: kProbes, intervalMs: kIntervalMs,
      delivered: rows.length, lost,
      ackToScreen: stats(d('frameAt', 'ackAt')),
      sendToScreen: stats(d('frameAt', 'sendAt')),
      sendToAck: stats(d('ackAt', 'sendAt')),
      ackToCaseFiled: stats(d('createdMs', 'ackAt')),
      ackToLiveClient: stats(d('liveClientAt', 'ackAt')),
      ackToPageSocket: stats(d('liveAt', 'ackAt')),
      pageSocketToDom: stats(d('domAt', 'liveAt')),
      domToFrame: stats(d('frameAt', 'domAt')),
      backgroundEventsPerSecond: stats(background, ''),
      loadAverage: load,
      machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: +(totalmem() / 2 ** 30).toFixed(1),
                 chromium: browser.version(), node: process.version },
    }));
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await browser?.close();
    await server.stop();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
