// The citizen pages on a phone-sized viewport (375x812): the report form renders without
// horizontal overflow, a tap on the map sets the location (in Chongqing, named by district),
// "use my location" takes the browser's geolocation, and endpoints the server does not have yet
// are reported in words with submission disabled (no made-up categories). The tracking page
// says in words that lookup is unavailable.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { assertClean, launchBrowser, openPage, screenshot, startServer, waitReady } from './harness.mjs';

const kPhone = {
  viewport: { width: 375, height: 812 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: 'zh-CN',
};
// 解放碑, 渝中区 (WGS-84).
const kJiefangbei = { latitude: 29.5575, longitude: 106.5773 };

let server;
let browser;
before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

async function noHorizontalOverflow(page) {
  const { scroll, client } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    client: document.documentElement.clientWidth,
  }));
  assert.ok(scroll <= client, `page is ${scroll}px wide in a ${client}px viewport`);
}

// Waits for Leaflet's zoom animation to end (screenshots mid-animation show scaled paths).
async function mapSettled(page) {
  await page.waitForSelector('#report-map:not([data-moving])', { state: 'attached' });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

test('report form on a 375x812 phone: a map tap sets the location', async () => {
  const { context, page, problems } = await openPage(browser, server, '/report', kPhone);
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
  const spot = await page.evaluate(() => {
    const r = document.getElementById('report-map').getBoundingClientRect();
    for (let fy = 0.5; fy < 0.9; fy += 0.05) {
      for (let fx = 0.5; fx < 0.9; fx += 0.05) {
        const x = r.left + r.width * fx;
        const y = r.top + r.height * fy;
        if (document.elementFromPoint(x, y)?.matches('path.leaflet-interactive')) return { x, y };
      }
    }
    return null;
  });
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
  const { context, page, problems } = await openPage(browser, server, '/report', {
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
  const { context, page, problems } = await openPage(browser, server, '/report', {
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

test('tracking page says in words when lookup is unavailable', async () => {
  const { context, page, problems } = await openPage(browser, server, '/track/YW-TEST-0001',
                                                       { ...kPhone, apiErrorsExpected: true });
  await waitReady(page);
  assert.equal(await page.inputValue('#code'), 'YW-TEST-0001');
  const message = page.locator('#track-message');
  assert.equal(await message.getAttribute('data-kind'), 'error');
  assert.match(await message.textContent(), /此功能尚未开放.*\/api\/v1\/track\/YW-TEST-0001/);
  assert.equal(await page.locator('#result').isHidden(), true);
  await noHorizontalOverflow(page);
  await screenshot(page, 'track-mobile');
  await assertClean(page, problems);
  await context.close();
});
