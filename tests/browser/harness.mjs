// Browser test harness: runs the real `yiwang serve` on 127.0.0.1:0 with a fresh data dir and
// drives Debian's chromium through npm's playwright-core (never a downloaded browser).
//
//   const env = serverAndBrowser();          // before(): env.server, env.browser; after(): stop
//   const { context, page, problems } = await openPage(env.browser, env.server, '/', options);
//   ... assertions ...; await assertClean(page, problems); await context.close();
//
// startServer() alone starts a server of a test's own (server.url = 'http://127.0.0.1:PORT';
// await server.stop() at the end).
//
// Every page is watched: a request to any host but 127.0.0.1 is aborted and recorded; CSP
// violations (securitypolicyviolation events), uncaught errors and console errors are recorded.
// assertClean() fails the test on any of them. Screenshots go to build/artifacts/.
//
// Environment (set by ctest, see tests/CMakeLists.txt): YIWANG_BINARY, YIWANG_ARTIFACTS,
// YIWANG_CHROMIUM; defaults suit a run from the repo with build/ as the build dir.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
// playwright-core lives in web/ui/node_modules (installed by tools/setup.sh from the lockfile).
const requireUi = createRequire(join(repo, 'web', 'ui', 'package.json'));
const { chromium } = requireUi('playwright-core');

export const binary = process.env.YIWANG_BINARY ?? join(repo, 'build', 'yiwang');
export const artifacts = process.env.YIWANG_ARTIFACTS ?? join(repo, 'build', 'artifacts');
const chromiumPath = process.env.YIWANG_CHROMIUM ?? '/usr/bin/chromium';

const kLaunchArgs = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const kReadyTimeoutMs = 20000;

// The citizen pages' phone: browser.newContext options (or openPage's) of a 375x812 touch screen.
export const kPhone = {
  viewport: { width: 375, height: 812 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: 'zh-CN',
};
const kStopTimeoutMs = 10000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Starts `yiwang serve` and resolves once it has written its ready file.
export async function startServer({ args = [] } = {}) {
  assert.ok(existsSync(binary), `no server binary at ${binary}: build first`);
  const dir = mkdtempSync(join(tmpdir(), 'yiwang-browser-'));
  const readyFile = join(dir, 'ready');
  const child = spawn(binary, ['serve', '--data-dir', join(dir, 'data'), '--listen',
                               '127.0.0.1:0', '--ready-file', readyFile, '--log-level', 'warn',
                               ...args],
                      { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  let exited = null;
  const exitPromise = new Promise((resolve) => child.on('exit', (code, signal) => {
    exited = { code, signal };
    resolve(exited);
  }));

  const deadline = Date.now() + kReadyTimeoutMs;
  let url = '';
  while (!url) {
    if (exited) throw new Error(`yiwang serve exited (${JSON.stringify(exited)}) before ready:\n${log}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`yiwang serve not ready after ${kReadyTimeoutMs} ms:\n${log}`);
    }
    try {
      url = readFileSync(readyFile, 'utf8').trim();
    } catch {
      await sleep(50);
    }
  }
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);

  return {
    url,
    dir,
    log: () => log,
    // SIGTERM, then waits for a clean exit (code 0); the data dir is removed.
    async stop() {
      if (!exited) child.kill('SIGTERM');
      const timer = sleep(kStopTimeoutMs).then(() => 'timeout');
      const result = await Promise.race([exitPromise, timer]);
      if (result === 'timeout') child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      assert.notEqual(result, 'timeout', `yiwang serve did not stop on SIGTERM:\n${log}`);
      assert.equal(result.code, 0, `yiwang serve exited with ${JSON.stringify(result)}:\n${log}`);
    },
  };
}

export function launchBrowser() {
  return chromium.launch({ executablePath: chromiumPath, args: kLaunchArgs });
}

// One server (`yiwang serve` with `args`) and one browser shared by a test file's tests:
// registers node:test before() and after() hooks that start and stop both. Returns an object
// whose `server` and `browser` are set once the before() hook has run: read them in the tests.
export function serverAndBrowser({ args = [] } = {}) {
  const env = { server: null, browser: null };
  before(async () => {
    env.server = await startServer({ args });
    env.browser = await launchBrowser();
  });
  after(async () => {
    await env.browser?.close();
    await env.server?.stop();
  });
  return env;
}

// Console errors that are expected while parts of the API are still being built: the browser
// reports every 404 of a fetch as "Failed to load resource". Only /api/v1/ endpoints qualify;
// a 404 of a page file is a real problem.
// The console's sign-in probe of a signed-out page (GET /api/v1/session -> 401) is expected.
// With `apiErrorsExpected` (a test that makes the API answer errors on purpose), any error
// status of an /api/v1/ request qualifies.
function isExpectedApiError(msg, apiErrorsExpected) {
  const m = /Failed to load resource: the server responded with a status of (\d+)/.exec(msg.text());
  const url = msg.location()?.url ?? '';
  if (!m || !/\/api\/v1\//.test(url)) return false;
  if (m[1] === '401' && /\/api\/v1\/session$/.test(url)) return true;
  return apiErrorsExpected;
}

// A new context (fresh storage) and page on `server`, watched for problems, at `path`
// (not loaded when path is null). `options` go to browser.newContext (viewport, geolocation...),
// except `apiErrorsExpected` (see isExpectedApiError) and `beforeLoad(page)`, which runs before
// the page is loaded (e.g. to install page.route handlers).
export async function openPage(browser, server, path, options = {}) {
  const { apiErrorsExpected = false, beforeLoad = null, ...contextOptions } = options;
  const context = await browser.newContext({ baseURL: server.url, ...contextOptions });
  const problems = { foreignRequests: [], cspViolations: [], pageErrors: [], consoleErrors: [] };
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if (url.hostname !== '127.0.0.1') {
      problems.foreignRequests.push(route.request().url());
      return route.abort('blockedbyclient');
    }
    return route.continue();
  });
  // Runs before any page script, outside the page's CSP.
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__cspViolations.push(`${e.violatedDirective}: ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  const page = await context.newPage();
  page.on('pageerror', (err) => problems.pageErrors.push(String(err)));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !isExpectedApiError(msg, apiErrorsExpected)) {
      const where = msg.location()?.url ?? '';
      problems.consoleErrors.push(`${msg.text()} ${where}`);
    }
  });
  if (beforeLoad) await beforeLoad(page);
  if (path !== null) await page.goto(path);
  return { context, page, problems };
}

export async function waitReady(page, value = 'true') {
  await page.waitForSelector(`body[data-ready="${value}"]`, { state: 'attached', timeout: 20000 });
}

// Collects the page's CSP violations and fails on any recorded problem.
export async function assertClean(page, problems) {
  const csp = await page.evaluate(() => window.__cspViolations ?? []);
  problems.cspViolations.push(...csp);
  assert.deepEqual(problems.foreignRequests, [], 'requests to hosts other than 127.0.0.1');
  assert.deepEqual(problems.cspViolations, [], 'Content-Security-Policy violations');
  assert.deepEqual(problems.pageErrors, [], 'uncaught errors in the page');
  assert.deepEqual(problems.consoleErrors, [], 'console errors');
}

export async function screenshot(page, name, { fullPage = false } = {}) {
  mkdirSync(artifacts, { recursive: true });
  const file = join(artifacts, `${name}.png`);
  await page.screenshot({ path: file, fullPage });
  return file;
}

// A point on screen (page coordinates) inside a district of the Leaflet map in element #mapId:
// of the district with GB/T 2260 `code` when given (the point in the middle of the probed points
// that hit its path), else of any district (the first hit, probing the map's lower right
// quarter). Null if no probed point hits. Leaflet draws one path per district in the order of
// the GeoJSON's features.
export async function districtSpot(page, mapId, { code = null } = {}) {
  return page.evaluate(async ({ mapId, code }) => {
    const map = document.getElementById(mapId);
    const paths = [...map.querySelectorAll('path.leaflet-interactive')];
    const r = map.getBoundingClientRect();
    if (code === null) {
      for (let fy = 0.5; fy < 0.9; fy += 0.05) {
        for (let fx = 0.5; fx < 0.9; fx += 0.05) {
          const x = r.left + r.width * fx;
          const y = r.top + r.height * fy;
          if (paths.includes(document.elementFromPoint(x, y))) return { x, y };
        }
      }
      return null;
    }
    const geo = await fetch('/static/data/chongqing-districts.geojson').then((res) => res.json());
    const path = paths[geo.features.findIndex((f) => f.properties.code === code)];
    if (!path) return null;
    const b = path.getBoundingClientRect();
    const hits = [];
    for (let y = Math.max(b.top, r.top) + 1; y < Math.min(b.bottom, r.bottom); y += 2) {
      for (let x = Math.max(b.left, r.left) + 1; x < Math.min(b.right, r.right); x += 2) {
        if (document.elementFromPoint(x, y) === path) hits.push({ x, y });
      }
    }
    if (!hits.length) return null;
    const cx = hits.reduce((s, p) => s + p.x, 0) / hits.length;
    const cy = hits.reduce((s, p) => s + p.y, 0) / hits.length;
    const d = (p) => (p.x - cx) ** 2 + (p.y - cy) ** 2;
    return hits.reduce((best, p) => (d(p) < d(best) ? p : best));
  }, { mapId, code });
}

// Waits for the report page's map (#report-map) to end its zoom animation (the page sets
// data-moving meanwhile; a screenshot mid-animation shows scaled paths), then two frames.
export async function mapSettled(page) {
  await page.waitForSelector('#report-map:not([data-moving])', { state: 'attached' });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

// A JPEG of `width` x `height` drawn by the browser itself (so it really decodes), with `label`.
export async function makeJpeg(page, width, height, label) {
  const b64 = await page.evaluate(async ({ width, height, label }) => {
    const c = document.createElement('canvas');
    c.width = width;
    c.height = height;
    const g = c.getContext('2d');
    g.fillStyle = '#4a7fb5';
    g.fillRect(0, 0, width, height);
    g.fillStyle = '#2b8a3e';
    g.fillRect(0, height * 0.6, width, height * 0.4);
    g.fillStyle = '#fff';
    g.font = `${Math.round(height / 6)}px sans-serif`;
    g.fillText(label, width * 0.1, height * 0.4);
    const blob = await new Promise((r) => c.toBlob(r, 'image/jpeg', 0.8));
    const bytes = new Uint8Array(await blob.arrayBuffer());
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s);
  }, { width, height, label });
  return Buffer.from(b64, 'base64');
}
