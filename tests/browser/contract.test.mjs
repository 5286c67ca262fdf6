// The pages against the API contract (docs/api.md, "API the pages use"), apart from the server
// that implements it (browser.flow and browser.report drive the real one): here the test answers
// /api/v1 requests itself (page.route), so the pages' own logic is checked, including answers
// the real server gives rarely (errors, odd states): what they send (JSON bodies, raw photo bodies with their
// type, X-CSRF-Token) and what they show (tracking code, 附议, timeline, rating, errors in
// words). Every other request, pages and files included, goes to the real server.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assertClean, districtSpot, openPage, screenshot, serverAndBrowser,
         waitReady } from './harness.mjs';

const kPhone = { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true };
const kPng = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64');
const kUiConfig = {
  tileUrl: '',
  tileAttribution: '',
  tileCrs: 'wgs84',
  categories: [
    { code: '0101', name: '上水井盖', nameEn: 'Water supply manhole cover', group: '公用设施' },
    { code: '0302', name: '公厕化粪池', nameEn: 'Public toilet septic tank', group: '市容环境' },
  ],
  districts: [{ code: '500103', name: '渝中区' }],
};

const env = serverAndBrowser();

// Answers /api/v1 requests from `handlers`: {'METHOD /path-regex': (request, match) => ({status,
// body})}. Unhandled API requests get the server's own "no such route" 404. Returns the log of
// handled requests: {method, path, headers, json, buffer}.
async function fakeApi(page, handlers) {
  const log = [];
  const table = Object.entries(handlers).map(([key, fn]) => {
    const [method, pattern] = key.split(' ');
    return { method, re: new RegExp(`^${pattern}$`), fn };
  });
  await page.route('**/api/v1/**', async (route) => {
    const req = route.request();
    const url = new URL(req.url());
    for (const { method, re, fn } of table) {
      const m = re.exec(url.pathname);
      if (!m || method !== req.method()) continue;
      const entry = { method: req.method(), path: url.pathname + url.search, headers: await req.allHeaders(),
                      buffer: req.postDataBuffer() };
      try {
        entry.json = JSON.parse(req.postData() ?? '');
      } catch {
        entry.json = null;
      }
      log.push(entry);
      const { status = 200, body } = await fn(req, m, url);
      return route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body) });
    }
    return route.continue();
  });
  return log;
}

async function tapDistrict(page, mapId) {
  const spot = await districtSpot(page, mapId);
  assert.ok(spot);
  await page.touchscreen.tap(spot.x, spot.y);
  await page.waitForFunction(() => document.getElementById('location-text').dataset.kind === 'ok');
}

test('report: photo upload, report JSON, tracking code shown', async () => {
  let api;
  const { context, page, problems } = await openPage(env.browser, env.server, '/report', {
    ...kPhone,
    beforeLoad: async (p) => {
      api = await fakeApi(p, {
        'GET /api/v1/ui-config': () => ({ body: kUiConfig }),
        'POST /api/v1/photos': () => ({ status: 201, body: { photoId: 'ph-1' } }),
        'GET /api/v1/reports/nearby': () => ({ body: { cases: [] } }),
        'POST /api/v1/reports': () => ({
          status: 201, body: { trackingCode: 'YW-8K2M-4Q7P', caseId: 'c-42', linked: false } }),
      });
    },
  });
  await waitReady(page);
  assert.equal(await page.locator('#config-message').isHidden(), true);
  assert.equal(await page.locator('#category optgroup').count(), 2);
  await page.selectOption('#category', '0101');
  await page.fill('#description', '人行道井盖松动');
  await tapDistrict(page, 'report-map');
  await page.setInputFiles('#photos', { name: 'cover.png', mimeType: 'image/png', buffer: kPng });
  assert.equal(await page.locator('#photo-previews img').count(), 1);
  await page.fill('#contact', '13800000000');
  await page.click('#submit');
  await page.locator('#done-section').waitFor();

  assert.equal(await page.locator('#tracking-code').textContent(), 'YW-8K2M-4Q7P');
  assert.equal(await page.getAttribute('#track-link', 'href'), '/track/YW-8K2M-4Q7P');
  assert.equal(await page.locator('#linked-note').isHidden(), true);

  const photo = api.find((r) => r.path === '/api/v1/photos');
  assert.equal(photo.headers['content-type'], 'image/png');
  assert.deepEqual(photo.buffer, kPng);
  const report = api.find((r) => r.path === '/api/v1/reports');
  const nearby = new URL(api.find((r) => r.path.startsWith('/api/v1/reports/nearby')).path, env.server.url);
  assert.equal(nearby.searchParams.get('category'), '0101');
  assert.equal(Number(nearby.searchParams.get('lat')), report.json.location.lat);
  assert.equal(Number(nearby.searchParams.get('lon')), report.json.location.lon);
  assert.equal(report.headers['content-type'], 'application/json');
  assert.equal(report.json.category, '0101');
  assert.equal(report.json.description, '人行道井盖松动');
  assert.deepEqual(report.json.photoIds, ['ph-1']);
  assert.equal(report.json.contact, '13800000000');
  assert.equal(report.json.supportCaseId, undefined);
  assert.equal(Number(await page.inputValue('#lat')), report.json.location.lat);
  assert.equal(Number(await page.inputValue('#lon')), report.json.location.lon);
  await screenshot(page, 'report-done-mobile', { fullPage: true });
  await assertClean(page, problems);
  await context.close();
});

test('report: a similar case nearby can be supported (附议)', async () => {
  let api;
  const { context, page, problems } = await openPage(env.browser, env.server, '/report', {
    ...kPhone,
    beforeLoad: async (p) => {
      api = await fakeApi(p, {
        'GET /api/v1/ui-config': () => ({ body: kUiConfig }),
        'GET /api/v1/reports/nearby': () => ({
          body: { cases: [{ id: 'c-7', category: '0101', description: '井盖缺失', distanceM: 50,
                            state: '处置中' }] } }),
        'POST /api/v1/reports': () => ({
          status: 201, body: { trackingCode: 'YW-AAAA-BBBB', caseId: 'c-7', linked: true } }),
      });
    },
  });
  await waitReady(page);
  await page.selectOption('#category', '0101');
  await page.fill('#description', '井盖没了');
  await tapDistrict(page, 'report-map');
  await page.click('#submit');
  await page.locator('#nearby-section').waitFor();
  assert.match(await page.locator('#nearby-list li').textContent(), /井盖缺失.*50 米以内/);
  await screenshot(page, 'report-nearby-mobile', { fullPage: true });
  await page.click('#nearby-list button');
  await page.locator('#done-section').waitFor();
  assert.equal(await page.locator('#linked-note').isVisible(), true);
  assert.equal(api.find((r) => r.path === '/api/v1/reports').json.supportCaseId, 'c-7');
  await assertClean(page, problems);
  await context.close();
});

test('report: the server\'s error is shown in words', async () => {
  const { context, page, problems } = await openPage(env.browser, env.server, '/report', {
    ...kPhone,
    apiErrorsExpected: true,
    beforeLoad: (p) => fakeApi(p, {
      'GET /api/v1/ui-config': () => ({ body: kUiConfig }),
      'GET /api/v1/reports/nearby': () => ({ body: { cases: [] } }),
      'POST /api/v1/reports': () => ({
        status: 429, body: { error: { code: 'rate_limited', message: '提交太频繁，请一分钟后再试' } } }),
    }),
  });
  await waitReady(page);
  await page.click('#submit');
  assert.equal(await page.locator('#form-message').textContent(), '请选择问题类别');
  await page.selectOption('#category', '0302');
  await page.click('#submit');
  assert.equal(await page.locator('#form-message').textContent(), '请填写问题描述');
  await page.fill('#description', '有臭味');
  await page.click('#submit');
  assert.equal(await page.locator('#form-message').textContent(), '请在地图上选择问题位置');
  await tapDistrict(page, 'report-map');
  await page.click('#submit');
  await page.waitForFunction(() => /一分钟后/.test(document.getElementById('form-message').textContent));
  assert.equal(await page.locator('#form-message').getAttribute('data-kind'), 'error');
  assert.equal(await page.locator('#done-section').isHidden(), true);
  assert.equal(await page.locator('#submit').isDisabled(), false);
  await assertClean(page, problems);
  await context.close();
});

test('track: status, timeline and a rating once closed', async () => {
  let rated = null;
  let api;
  const kTrack = {
    trackingCode: 'YW-8K2M-4Q7P', caseId: 'c-42', state: 'CASE_STATE_CLOSED', stateText: '已办结',
    category: '上水井盖', createdAt: '2026-11-22T08:00:00Z',
    timeline: [
      { time: '2026-11-22T08:00:00Z', action: 'CREATE', text: '已收到您的上报' },
      { time: '2026-11-22T09:30:00Z', action: 'HANDLE', text: '已更换井盖' },
      { time: '2026-11-22T10:00:00Z', action: 'CLOSE', text: '已办结' },
    ],
    afterPhotoIds: [],
  };
  const { context, page, problems } = await openPage(env.browser, env.server, '/track/YW-8K2M-4Q7P', {
    ...kPhone,
    beforeLoad: async (p) => {
      api = await fakeApi(p, {
        'GET /api/v1/track/([^/]+)': (req, m) => {
          assert.equal(decodeURIComponent(m[1]), 'YW-8K2M-4Q7P');
          return { body: { ...kTrack, rating: rated } };
        },
        'POST /api/v1/track/([^/]+)/rating': (req) => {
          rated = { ...JSON.parse(req.postData()), time: '2026-11-22T11:00:00Z' };
          return { status: 201, body: { rating: rated } };
        },
      });
    },
  });
  await waitReady(page);
  assert.equal(await page.locator('#state-text').textContent(), '已办结');
  assert.equal(await page.locator('#timeline li').count(), 3);
  assert.match(await page.locator('#timeline').textContent(), /已更换井盖/);
  assert.equal(await page.locator('#rating').isVisible(), true);
  assert.equal(await page.locator('#fixed-no').textContent(), '没有解决（将重新处理）');
  await screenshot(page, 'track-closed-mobile', { fullPage: true });

  await page.click('#rating-form button[type=submit]');
  assert.equal(await page.locator('#rating-message').textContent(), '请选择满意度和是否已解决');
  await page.check('#stars input[value="4"]');
  await page.check('input[name=fixed][value=yes]');
  await page.fill('#comment', '很快');
  await page.click('#rating-form button[type=submit]');
  await page.locator('#rated').waitFor();
  assert.equal(await page.locator('#rated-text').textContent(), '您的评价：4 星：很快');
  assert.deepEqual(api.find((r) => r.method === 'POST').json, { stars: 4, comment: '很快', fixed: true });
  assert.equal(await page.locator('#rating').isHidden(), true);
  await assertClean(page, problems);
  await context.close();
});

test('track: a supporter (附议) is told "not fixed" is recorded as their opinion', async () => {
  const kTrack = {
    trackingCode: 'YW-SUPP-0001', caseId: 'c-43', linked: true, state: 'CASE_STATE_CLOSED',
    stateText: '已办结', category: '道路积水', createdAt: '2026-11-22T08:00:00Z', timeline: [],
    afterPhotoIds: [], rating: null, canRate: true,
  };
  const { context, page, problems } = await openPage(env.browser, env.server, '/track/YW-SUPP-0001', {
    ...kPhone,
    beforeLoad: async (p) => {
      await fakeApi(p, {
        'GET /api/v1/track/([^/]+)': () => ({ body: { ...kTrack, ratingReopens: false } }),
      });
    },
  });
  await waitReady(page);
  assert.equal(await page.locator('#rating').isVisible(), true);
  assert.equal(await page.locator('#fixed-no').textContent(), '没有解决（作为您的意见记录）');
  await assertClean(page, problems);
  await context.close();
});

test('console: session login and logout send the CSRF token; tiles from the UI config', async () => {
  let signedIn = false;
  let api;
  const { context, page, problems } = await openPage(env.browser, env.server, '/', {
    viewport: { width: 1280, height: 800 },
    apiErrorsExpected: true,  // GET /api/v1/session answers 401 before the login
    beforeLoad: async (p) => {
      api = await fakeApi(p, {
        'GET /api/v1/ui-config': () => ({
          body: { ...kUiConfig, tileUrl: '/test-tiles/{z}/{x}/{y}.png', tileAttribution: 'test tiles' } }),
        'GET /api/v1/session': () => (signedIn
          ? { body: { user: { id: 'u1', name: '张三', role: 'supervisor' }, csrfToken: 'csrf-1' } }
          : { status: 401, body: { error: { code: 'unauthorized', message: '请先登录' } } }),
        'POST /api/v1/session': (req) => {
          const { username, password } = JSON.parse(req.postData());
          if (username !== 'zhangsan' || password !== 'right') {
            return { status: 401, body: { error: { code: 'bad_credentials', message: '用户名或密码不正确' } } };
          }
          signedIn = true;
          return { status: 201, body: { user: { id: 'u1', name: '张三', role: 'supervisor' }, csrfToken: 'csrf-1' } };
        },
        'DELETE /api/v1/session': () => {
          signedIn = false;
          return { status: 200, body: {} };
        },
      });
      // The tile server of this test: same origin, so the CSP allows it.
      await p.route('**/test-tiles/**', (route) => route.fulfill({ contentType: 'image/png', body: kPng }));
    },
  });
  await waitReady(page);
  assert.ok(await page.locator('.leaflet-tile-pane img').count() > 0, 'no tiles requested');
  assert.match(await page.locator('.leaflet-control-attribution').textContent(), /test tiles/);
  assert.equal(await page.locator('#filter-category option').count(), 3);

  await page.fill('.login-form input[name=username]', 'zhangsan');
  await page.fill('.login-form input[name=password]', 'wrong');
  await page.click('.login-form button[type=submit]');
  await page.waitForFunction(() => /用户名或密码不正确/.test(document.querySelector('.login-form .message').textContent));
  await page.fill('.login-form input[name=password]', 'right');
  await page.click('.login-form button[type=submit]');
  await page.locator('.login-user').waitFor();
  assert.match(await page.locator('.login-user').textContent(), /张三/);
  await screenshot(page, 'console-signed-in');
  await page.click('#login-area .link-button');
  await page.locator('.login-form').waitFor();
  const logout = api.find((r) => r.method === 'DELETE');
  assert.equal(logout.headers['x-csrf-token'], 'csrf-1');
  assert.equal(api.filter((r) => r.method === 'POST')[0].headers['x-csrf-token'], undefined);
  await assertClean(page, problems);
  await context.close();
});
