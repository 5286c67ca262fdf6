// Benchmark of the console's live map with many cases (not part of make test; docs/benchmarks.md,
// "Operator console map"): time to first render and frame times while panning, in headless Chromium, against a real
// `yiwang serve` holding N real cases (filed through POST /api/v1/cases, spread over
// Chongqing's districts). Prints one JSON line.
//
//   node tests/browser/bench_map.mjs [--cases 100000] [--data-dir build/bench-map-data]
//
// The data dir is kept: a second run with the same --cases skips the filing (which takes a
// few minutes: every case is one durable dispatcher write).

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { binary, launchBrowser } from './harness.mjs';

const { values } = parseArgs({ options: {
  cases: { type: 'string', default: '100000' },
  'data-dir': { type: 'string', default: join('build', 'bench-map-data') },
  concurrency: { type: 'string', default: '32' },
} });
const kCases = Number(values.cases);
const dataDir = values['data-dir'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startServer() {
  mkdirSync(dataDir, { recursive: true });
  const ready = join(dataDir, 'ready');
  rmSync(ready, { force: true });
  const child = spawn(binary, ['serve', '--data-dir', join(dataDir, 'data'), '--listen', '127.0.0.1:0',
                               '--ready-file', ready, '--log-level', 'warn'], { stdio: 'inherit' });
  for (let i = 0; i < 600 && !existsSync(ready); i++) await sleep(100);
  return { child, url: readFileSync(ready, 'utf8').trim() };
}

async function main() {
  const server = await startServer();
  const token = readFileSync(join(dataDir, 'data', 'bootstrap-admin.token'), 'utf8').split('\n')[0].trim();
  const call = async (method, path, body) => {
    const res = await fetch(server.url + path, { method, body: body && JSON.stringify(body),
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } });
    return { status: res.status, body: await res.json().catch(() => null) };
  };
  await call('POST', '/api/v1/admin/users', { username: 'bench', password: 'bench password 1', role: 'dispatcher' });

  // File cases until there are kCases open ones, spread over the districts' boxes.
  const config = (await call('GET', '/api/v1/ui-config')).body;
  const geo = JSON.parse(readFileSync(join('build', 'web', 'static', 'data', 'chongqing-districts.geojson'), 'utf8'));
  const boxes = geo.features.map((f) => {
    const coords = f.geometry.coordinates.flat(f.geometry.type === 'Polygon' ? 1 : 2);
    const lons = coords.map((c) => c[0]);
    const lats = coords.map((c) => c[1]);
    return { code: f.properties.code, box: [Math.min(...lons), Math.min(...lats), Math.max(...lons), Math.max(...lats)] };
  }).filter((b) => config.districts.some((d) => d.code === b.code));
  const categories = config.categories.filter((c) => !c.code.startsWith('event:')).map((c) => c.code);
  let have = (await call('GET', '/api/v1/cases?limit=1')).body.total;
  const fileStart = Date.now();
  let filed = 0;
  let next = have;
  const worker = async () => {
    while (next < kCases) {
      const i = next++;
      const b = boxes[i % boxes.length];
      const res = await call('POST', '/api/v1/cases', {
        category: categories[i % categories.length], district: b.code, source: i % 2 ? 'patrol' : 'hotline',
        urgency: ['general', 'urgent', 'emergency'][i % 3], description: `bench case ${i}`,
        location: { lat: b.box[1] + Math.random() * (b.box[3] - b.box[1]),
                    lon: b.box[0] + Math.random() * (b.box[2] - b.box[0]) },
      });
      if (res.status !== 201) throw new Error(`filing: ${res.status} ${JSON.stringify(res.body)}`);
      filed += 1;
      if (filed % 10000 === 0) console.error(`filed ${have + filed} cases`);
    }
  };
  await Promise.all(Array.from({ length: Number(values.concurrency) }, worker));
  const fileSeconds = (Date.now() - fileStart) / 1000;
  have += filed;

  const browser = await launchBrowser();
  const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e}`));
  await page.goto('/');
  await page.waitForSelector('#login-area form.login-form');
  await page.fill('#login-area input[name=username]', 'bench');
  await page.fill('#login-area input[name=password]', 'bench password 1');
  await page.click('#login-area button[type=submit]');
  await page.waitForSelector('body[data-cases="ready"]', { state: 'attached', timeout: 300000 });

  // Time to first render: a fresh load of the signed-in console until the points are drawn.
  const firstRender = [];
  for (let run = 0; run < 3; run++) {
    await page.reload();
    await page.waitForSelector('body[data-cases="ready"]', { state: 'attached', timeout: 300000 });
    firstRender.push(await page.evaluate(() => {
      const points = performance.getEntriesByType('resource').find((e) => e.name.includes('/api/v1/cases/points'));
      return { readyMs: performance.now(), pointsFetchMs: points ? points.duration : null,
               pointsBytes: points ? points.encodedBodySize : null,
               indexMs: Number(document.getElementById('map').dataset.indexMs),
               points: Number(document.getElementById('map').dataset.points) };
    }));
  }

  // Frame times while panning: drag the map around for a few seconds (and zoom a step in and
  // out between drags, which re-clusters) while requestAnimationFrame records frame intervals.
  await page.evaluate(() => {
    window.__frames = [];
    window.__phase = 'pan';
    let last = performance.now();
    const loop = (t) => {
      window.__frames.push([window.__phase, t - last]);
      last = t;
      if (!window.__stopFrames) requestAnimationFrame(loop);
    };
    requestAnimationFrame(loop);
  });
  const box = await page.locator('#map').boundingBox();
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const phase = (name) => page.evaluate((n) => { window.__phase = n; }, name);
  for (let round = 0; round < 4; round++) {
    await phase('pan');
    await page.mouse.move(cx, cy);
    await page.mouse.down();
    for (let step = 1; step <= 60; step++) {
      const a = (step / 60) * Math.PI * 2;
      await page.mouse.move(cx + Math.cos(a) * 250, cy + Math.sin(a) * 180);
    }
    await page.mouse.up();
    await sleep(300);  // the re-clustering of the new view (moveend) lands in 'pan'
    await phase('zoom');
    await page.mouse.wheel(0, round % 2 ? 300 : -300);
    await sleep(600);
  }
  const all = await page.evaluate(() => {
    window.__stopFrames = true;
    return window.__frames.slice(1);
  });
  const stats = (name) => {
    const frames = all.filter(([p]) => p === name).map(([, f]) => f).sort((a, b) => a - b);
    const q = (p) => frames[Math.min(frames.length - 1, Math.floor(p * frames.length))];
    const mean = frames.reduce((s, f) => s + f, 0) / frames.length;
    return { count: frames.length, meanMs: +mean.toFixed(2), p50Ms: +q(0.5).toFixed(2),
             p95Ms: +q(0.95).toFixed(2), p99Ms: +q(0.99).toFixed(2), maxMs: +frames[frames.length - 1].toFixed(2) };
  };
  const markers = await page.locator('.case-marker, .case-cluster').count();

  console.log(JSON.stringify({
    bench: 'console_map', cases: have, filedNow: filed, fileSeconds,
    firstRender, panFrames: stats('pan'), zoomFrames: stats('zoom'),
    domMarkersAfter: markers,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, memGiB: +(totalmem() / 2 ** 30).toFixed(1),
               chromium: browser.version() },
  }));
  await browser.close();
  server.child.kill('SIGTERM');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
