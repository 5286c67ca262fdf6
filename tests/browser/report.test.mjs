// The citizen pages on a phone-sized viewport (375x812): the report form renders without
// horizontal overflow, a tap on the map sets the location (in Chongqing, named by district),
// "use my location" takes the browser's geolocation, a point outside Chongqing, a photo of the
// wrong type and an unknown tracking code are refused in words; a neighbour supports an open
// report (附议) and a "not fixed" rating reopens the case. The whole loop of one report, every
// step in a browser, is flow.test.mjs.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { assertClean, districtSpot, kPhone, makeJpeg, mapSettled, openPage, screenshot,
         serverAndBrowser, waitReady } from './harness.mjs';

// 解放碑, 渝中区 (WGS-84).
const kJiefangbei = { latitude: 29.5575, longitude: 106.5773 };

const env = serverAndBrowser();

async function noHorizontalOverflow(page) {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  assert.ok(scroll <= client, `page is ${scroll}px wide in a ${client}px viewport`);
}

test('report form on a 375x812 phone: a map tap sets the location', async () => {
  const { context, page, problems } = await openPage(env.browser, env.server, '/report', kPhone);
  await waitReady(page);
  assert.equal(await page.title(), '随手拍 · 问题上报');
  assert.equal(await page.locator('#report-map path.leaflet-interactive').count(), 38);
  await noHorizontalOverflow(page);

  // Every control fits the viewport and is large enough to tap.
  for (const sel of ['#category', '#description', '#locate', '.file-button', '#contact', '#submit']) {
    const b = await page.locator(sel).boundingBox();
    assert.ok(b && b.x >= 0 && b.x + b.width <= 375, `${sel} at ${JSON.stringify(b)}`);
    assert.ok(b.height >= 32, `${sel} is ${b.height}px high`);
  }
  assert.equal(await page.getAttribute('#photos', 'accept'), 'image/jpeg,image/png,image/webp');

  // The categories come from /api/v1/ui-config: citizen categories only, in plain words.
  await page.waitForFunction(() => document.querySelectorAll('#category option').length > 10);
  const options = await page.locator('#category option').allTextContents();
  assert.ok(options.some((o) => o.includes('道路积水')), options.join(','));
  assert.ok(!options.some((o) => o.includes('设备离线')), 'system categories are not for citizens');

  assert.equal(await page.locator('#location-text').textContent(), '尚未选择位置');
  assert.equal(await page.inputValue('#lat'), '');
  // Tap a point on a district of the map.
  const spot = await districtSpot(page, 'report-map');
  assert.ok(spot, 'no district under any probed point of the report map');
  await page.touchscreen.tap(spot.x, spot.y);
  const text = page.locator('#location-text');
  await page.waitForFunction(() => document.getElementById('location-text').dataset.kind === 'ok');
  const lat = Number(await page.inputValue('#lat'));
  const lon = Number(await page.inputValue('#lon'));
  assert.ok(lat > 28.1 && lat < 32.3 && lon > 105.2 && lon < 110.2, `${lat}, ${lon}`);
  assert.match(await text.textContent(),
               new RegExp(`^已选位置：\\p{Script=Han}+[区县] ${lat.toFixed(5)}, ${lon.toFixed(5)}$`, 'u'));
  assert.equal(await page.locator('#report-map path.report-location').count(), 1);
  await mapSettled(page);
  await screenshot(page, 'report-mobile', { fullPage: true });

  // A second tap moves the one marker.
  await page.touchscreen.tap(spot.x + 10, spot.y + 10);
  assert.equal(await page.locator('#report-map path.report-location').count(), 1);
  await assertClean(page, problems);
  await context.close();
});

test('report form: "use my location" takes the browser position', async () => {
  const { context, page, problems } = await openPage(env.browser, env.server, '/report', {
    ...kPhone,
    geolocation: kJiefangbei,
    permissions: ['geolocation'],
  });
  await waitReady(page);
  await page.click('#locate');
  await page.waitForFunction(() => document.getElementById('location-text').dataset.kind === 'ok');
  assert.equal(await page.locator('#location-text').textContent(), '已选位置：渝中区 29.55750, 106.57730');
  assert.equal(Number(await page.inputValue('#lat')), kJiefangbei.latitude);
  assert.equal(Number(await page.inputValue('#lon')), kJiefangbei.longitude);
  await noHorizontalOverflow(page);
  await mapSettled(page);
  await screenshot(page, 'report-mobile-located', { fullPage: true });

  // A photo of the wrong type is refused by the form before any upload.
  await page.setInputFiles('#photos', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('x') });
  assert.match(await page.locator('#form-message').textContent(), /“notes.txt” 不是 JPEG、PNG 或 WebP 图片/);
  await assertClean(page, problems);
  await context.close();
});

test('a position outside Chongqing is not accepted', async () => {
  const { context, page, problems } = await openPage(env.browser, env.server, '/report', {
    ...kPhone,
    geolocation: { latitude: 39.9087, longitude: 116.3975 },  // Beijing
    permissions: ['geolocation'],
  });
  await waitReady(page);
  await page.click('#locate');
  await page.waitForFunction(() => document.getElementById('location-text').dataset.kind === 'error');
  assert.equal(await page.locator('#location-text').textContent(), '该位置不在重庆市范围内，请重新选择');
  assert.equal(await page.inputValue('#lat'), '');
  await assertClean(page, problems);
  await context.close();
});

test('tracking page: an unknown code is said in words', async () => {
  const { context, page, problems } = await openPage(env.browser, env.server, '/track/YW-TEST-0001',
                                                       { ...kPhone, apiErrorsExpected: true });
  await waitReady(page);
  assert.equal(await page.inputValue('#code'), 'YW-TEST-0001');
  const message = page.locator('#track-message');
  assert.equal(await message.getAttribute('data-kind'), 'error');
  assert.equal(await message.textContent(), '没有找到这个查询码，请检查后重试');
  assert.equal(await page.locator('#result').isHidden(), true);
  await noHorizontalOverflow(page);
  await screenshot(page, 'track-mobile');
  await assertClean(page, problems);
  await context.close();
});

test('a file that only claims to be an image is refused by the server, in words', async () => {
  const { context, page, problems } = await openPage(env.browser, env.server, '/report', {
    ...kPhone, geolocation: kJiefangbei, permissions: ['geolocation'], apiErrorsExpected: true,
  });
  await waitReady(page);
  await page.waitForFunction(() => document.querySelectorAll('#category option').length > 10);
  await page.selectOption('#category', 'event:0111');
  await page.fill('#description', '照片有问题的上报');
  await page.click('#locate');
  await page.waitForFunction(() => document.getElementById('location-text').dataset.kind === 'ok');
  await page.setInputFiles('#photos', { name: 'fake.png', mimeType: 'image/png',
                                        buffer: Buffer.from('<html>not a picture</html>') });
  const refused = page.waitForResponse((r) => r.url().endsWith('/api/v1/photos'));
  await page.click('#submit');
  assert.equal((await refused).status(), 415);
  await page.waitForFunction(() => document.getElementById('form-message').dataset.kind === 'error');
  assert.equal(await page.locator('#form-message').textContent(), '照片不是 JPEG、PNG 或 WebP 图片');
  assert.equal(await page.locator('#done-section').isHidden(), true);
  await assertClean(page, problems);
  await context.close();
});

// --- 附议 and reopening --------------------------------------------------------------------------

async function api(method, path, { token, body, type = 'application/json' } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = type;
  const res = await fetch(`${env.server.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : type === 'application/json' ? JSON.stringify(body) : body,
  });
  const text = await res.text();
  let data = null;
  try { data = JSON.parse(text); } catch { data = text; }
  return { status: res.status, data };
}

test('a neighbour supports an open report (附议), and "not fixed" on the tracking page reopens it', async () => {
  // 1. The first report, through the API.
  const filed = await api('POST', '/api/v1/reports', { body: {
    category: 'event:0111', description: '解放碑步行街路面积水，行人无法通过',
    location: { lat: kJiefangbei.latitude, lon: kJiefangbei.longitude } } });
  assert.equal(filed.status, 201, JSON.stringify(filed.data));
  const { trackingCode: code, caseId } = filed.data;

  // 2. A neighbour at the same spot is offered the open case nearby and supports it (附议).
  const second = await openPage(env.browser, env.server, '/report', {
    ...kPhone, geolocation: kJiefangbei, permissions: ['geolocation'],
  });
  await waitReady(second.page);
  await second.page.waitForFunction(() => document.querySelectorAll('#category option').length > 10);
  await second.page.selectOption('#category', 'event:0111');
  await second.page.fill('#description', '这里积水很深');
  await second.page.click('#locate');
  await second.page.waitForFunction(() => document.getElementById('location-text').dataset.kind === 'ok');
  await second.page.click('#submit');
  await second.page.waitForSelector('#nearby-section', { state: 'visible' });
  const offered = second.page.locator('#nearby-list li');
  assert.equal(await offered.count(), 1);
  assert.match(await offered.textContent(), /解放碑步行街路面积水/);
  await screenshot(second.page, 'report-nearby', { fullPage: true });
  await offered.locator('button').click();
  await second.page.waitForSelector('#done-section', { state: 'visible' });
  assert.equal(await second.page.locator('#linked-note').isVisible(), true);
  await assertClean(second.page, second.problems);
  await second.context.close();

  // 3. The operators, through the HTTP API: accept and transfer (admin), handled with an
  //    after-photo (a department user), verify and close (admin as supervisor).
  const admin = readFileSync(join(env.server.dir, 'data', 'bootstrap-admin.token'), 'utf8').split('\n')[0];
  const act = async (token, body) => {
    const r = await api('POST', `/api/v1/cases/${caseId}/transitions`, { token, body });
    assert.equal(r.status, 200, JSON.stringify(r.data));
  };
  await act(admin, { action: 'accept' });
  await act(admin, { action: 'transfer', department: 'cq-drainage' });
  const user = await api('POST', '/api/v1/admin/users', { token: admin, body: {
    username: 'drainage-1', displayName: '排水公司值班员', password: 'a-long-password-1',
    role: 'department', department: 'cq-drainage' } });
  assert.equal(user.status, 201, JSON.stringify(user.data));
  const tok = await api('POST', '/api/v1/admin/users/drainage-1/tokens', { token: admin, body: {} });
  assert.equal(tok.status, 201, JSON.stringify(tok.data));
  const track = await openPage(env.browser, env.server, `/track/${code}`, kPhone);
  await waitReady(track.page);
  const after = await api('POST', '/api/v1/photos', { body: await makeJpeg(track.page, 800, 600, '已疏通'),
                                                      type: 'image/jpeg' });
  assert.equal(after.status, 201, JSON.stringify(after.data));
  await act(tok.data.token, { action: 'report_handled', note: '已疏通排水口', evidence: [`photo:${after.data.photoId}`] });
  await act(admin, { action: 'verify_pass' });
  await act(admin, { action: 'close' });

  // 4. The tracking page: closed, the 附议 in the timeline, the rating form.
  await track.page.reload();
  await waitReady(track.page);
  assert.equal(await track.page.locator('#state-text').textContent(), '已办结');
  const timeline = await track.page.locator('#timeline li span').allTextContents();
  assert.deepEqual(timeline, ['问题已上报', '其他市民附议', '已受理立案', '已派遣至重庆市排水有限公司',
                              '已处理：已疏通排水口', '核查通过', '已办结']);
  assert.equal(await track.page.locator('#after-photos img').count(), 1);
  assert.equal(await track.page.locator('#rating').isVisible(), true);
  await noHorizontalOverflow(track.page);

  // 5. "Not fixed" reopens it.
  await track.page.check('#stars input[value="2"]');
  await track.page.check('input[name="fixed"][value="no"]');
  await track.page.fill('#comment', '雨后又积水了');
  await track.page.click('#rating-form button[type="submit"]');
  await track.page.waitForFunction(() => document.getElementById('state-text').textContent === '处理中');
  assert.equal(await track.page.locator('#rating').isHidden(), true);
  assert.match(await track.page.locator('#rated-text').textContent(), /2 星：雨后又积水了/);
  const lastStep = (await track.page.locator('#timeline li span').allTextContents()).at(-1);
  assert.equal(lastStep, '市民反馈问题未解决，重新处理');
  assert.equal(await track.page.locator('#after').isHidden(), true, 'the after-photo was not the result');
  const reopened = await api('GET', `/api/v1/cases/${caseId}`, { token: admin });
  assert.equal(reopened.data.case.state, 'CASE_STATE_HANDLING');
  await screenshot(track.page, 'track-reopened', { fullPage: true });
  await assertClean(track.page, track.problems);
  await track.context.close();
});
