// Security of the served pages against the real server: the headers on every page and file,
// static path traversal refused with specific errors (raw requests: browsers normalise "..",
// attackers do not), ETag revalidation, HEAD, and the CSP really enforced in Chromium (an inline
// script is blocked and reported), plus the harness's own guards failing when they should.

import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';

import { openPage, serverAndBrowser, waitReady } from './harness.mjs';

const env = serverAndBrowser();

// A request with the path exactly as given (no URL normalisation).
function raw(method, path, headers = {}) {
  const { hostname, port } = new URL(env.server.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const kCsp = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; " +
             "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; " +
             "form-action 'self'; object-src 'none'";

test('pages and files carry the security headers', async () => {
  for (const path of ['/', '/report', '/track', '/track/ABC', '/static/js/console.js',
                      '/static/css/base.css', '/static/data/chongqing-districts.geojson',
                      '/static/lib/leaflet/leaflet-src.esm.js', '/static/nope.js']) {
    const res = await raw('GET', path);
    assert.equal(res.headers['content-security-policy'], kCsp, path);
    assert.equal(res.headers['x-content-type-options'], 'nosniff', path);
    assert.equal(res.headers['referrer-policy'], 'same-origin', path);
    assert.equal(res.headers['x-frame-options'], 'DENY', path);
  }
  const types = {
    '/': 'text/html; charset=utf-8',
    '/static/js/console.js': 'text/javascript; charset=utf-8',
    '/static/lib/leaflet/leaflet.css': 'text/css; charset=utf-8',
    '/static/data/chongqing-districts.geojson': 'application/geo+json',
    '/static/lib/leaflet/images/marker-icon.png': 'image/png',
    '/static/img/favicon.svg': 'image/svg+xml',
    '/static/data/chongqing-districts.LICENSE.txt': 'text/plain; charset=utf-8',
  };
  for (const [path, type] of Object.entries(types)) {
    const res = await raw('GET', path);
    assert.equal(res.status, 200, path);
    assert.equal(res.headers['content-type'], type, path);
  }
  const licence = await raw('GET', '/static/data/chongqing-districts.LICENSE.txt');
  assert.match(licence.body, /AMap/);
});

test('static path traversal is refused', async () => {
  const cases = [
    ['/static/../../../../etc/passwd', 400, 'bad_path'],
    ['/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd', 400, 'bad_path'],
    ['/static/js/%2e%2e%2f%2e%2e%2f..%2fCMakeCache.txt', 400, 'bad_path'],
    ['/static/%2fetc%2fpasswd', 400, 'bad_path'],
    ['/static/..%5c..%5cCMakeCache.txt', 400, 'bad_path'],
    ['/static/index.html%00.png', 400, 'bad_path'],
    ['/static/%e', 400, 'bad_path_encoding'],
    ['/static/no-such-file.js', 404, 'file_not_found'],
  ];
  for (const [path, status, code] of cases) {
    const res = await raw('GET', path);
    assert.equal(res.status, status, path);
    assert.equal(JSON.parse(res.body).error.code, code, path);
    assert.doesNotMatch(res.body, /root:|CMAKE/, path);
  }
  const post = await raw('POST', '/static/js/console.js');
  assert.equal(post.status, 405);
  assert.equal(post.headers.allow, 'GET, HEAD');
});

test('ETag revalidation gives 304 and HEAD has no body', async () => {
  const first = await raw('GET', '/static/js/map.js');
  assert.equal(first.status, 200);
  assert.equal(first.headers['cache-control'], 'no-cache');
  const etag = first.headers.etag;
  assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
  const again = await raw('GET', '/static/js/map.js', { 'If-None-Match': etag });
  assert.equal(again.status, 304);
  assert.equal(again.body, '');
  const head = await raw('HEAD', '/static/js/map.js');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.equal(Number(head.headers['content-length']), Buffer.byteLength(first.body));
});

test('the CSP is enforced: an inline script is blocked and reported', async () => {
  const { context, page, problems } = await openPage(env.browser, env.server, '/');
  await waitReady(page);
  assert.deepEqual(await page.evaluate(() => window.__cspViolations), []);
  await page.evaluate(() => {
    const s = document.createElement('script');
    s.textContent = 'window.__inlineRan = true;';
    document.head.append(s);
  });
  await page.waitForFunction(() => window.__cspViolations.length > 0);
  assert.equal(await page.evaluate(() => window.__inlineRan), undefined);
  assert.match((await page.evaluate(() => window.__cspViolations))[0], /^script-src/);
  assert.deepEqual(problems.foreignRequests, []);
  await context.close();
});

test('the harness records requests to hosts other than 127.0.0.1', async () => {
  const { context, page, problems } = await openPage(env.browser, env.server, null);
  await page.goto('http://192.0.2.1/').catch(() => {});  // TEST-NET-1: aborted by the guard
  assert.deepEqual(problems.foreignRequests, ['http://192.0.2.1/']);
  await context.close();
});
