// The operator console in headless Chromium: the district map renders offline (38 district
// paths, names on hover), the language switch changes the texts and persists, the page loads
// with no CSP violation, no console error and no request off 127.0.0.1.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assertClean, districtSpot, openPage, screenshot, serverAndBrowser,
         waitReady } from './harness.mjs';

const env = serverAndBrowser();

test('console renders the 38 districts of Chongqing', async () => {
  const { context, page, problems } = await openPage(env.browser, env.server, '/',
                                                     { viewport: { width: 1440, height: 900 } });
  await waitReady(page);
  const paths = page.locator('.leaflet-overlay-pane svg path.leaflet-interactive');
  assert.equal(await paths.count(), 38);
  // Every path really has a shape on screen, not an empty "M0 0".
  const sizes = await paths.evaluateAll((els) => els.map((e) => e.getBBox()).map((b) => b.width * b.height));
  assert.ok(sizes.every((s) => s > 0), `empty district paths: ${sizes}`);
  // The whole municipality is in view: the districts' box fills most of the map.
  const box = await page.locator('.leaflet-overlay-pane svg').boundingBox();
  const map = await page.locator('#map').boundingBox();
  assert.ok(box.height > map.height * 0.6, `districts ${JSON.stringify(box)} in map ${JSON.stringify(map)}`);

  await assert.doesNotReject(page.locator('h1.topbar-title').waitFor());
  assert.equal(await page.locator('h1.topbar-title').textContent(), '一网统管 · 城市运行指挥中心');
  assert.equal(await page.title(), '一网统管 · 城市运行指挥中心');
  // The district filter lists the 38 districts (names from the converted map).
  assert.equal(await page.locator('#filter-district option').count(), 39);
  // Nobody is signed in: the login area offers the sign-in form.
  await page.locator('#login-area form.login-form').waitFor();
  assert.equal(await page.locator('#login-area input[name=password]').getAttribute('type'), 'password');

  // Hovering a district shows its name and code: find a point of the map on a district path.
  const spot = await districtSpot(page, 'map');
  assert.ok(spot, 'no district under any probed point of the map');
  await page.mouse.move(spot.x, spot.y);
  const tooltip = page.locator('.leaflet-tooltip.district-tooltip');
  await tooltip.waitFor();
  assert.match(await tooltip.textContent(), /^\p{Script=Han}+[区县]（50\d{4}）$/u);

  await screenshot(page, 'console-map');
  await assertClean(page, problems);
  await context.close();
});

test('language switch changes the texts and persists across reloads', async () => {
  const { context, page, problems } = await openPage(env.browser, env.server, '/');
  await waitReady(page);
  const title = page.locator('h1.topbar-title');
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  await page.click('#lang-switch');
  assert.equal(await title.textContent(), 'Yiwang · City Operations Command Centre');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal(await page.locator('#lang-switch').textContent(), '中文');
  assert.equal(await page.title(), 'Yiwang · City Operations Command Centre');
  assert.equal(await page.locator('#login-area button[type=submit]').textContent(), 'Sign in');

  await page.reload();
  await waitReady(page);
  assert.equal(await title.textContent(), 'Yiwang · City Operations Command Centre');
  assert.equal(await page.evaluate(() => localStorage.getItem('yiwang.lang')), 'en');
  await screenshot(page, 'console-map-en');

  await page.click('#lang-switch');
  assert.equal(await title.textContent(), '一网统管 · 城市运行指挥中心');
  await page.reload();
  await waitReady(page);
  assert.equal(await title.textContent(), '一网统管 · 城市运行指挥中心');
  await assertClean(page, problems);
  await context.close();
});
