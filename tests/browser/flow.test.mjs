// The whole loop of a citizen's report, every step done by a person in a browser page, each
// person in a browser context of their own, against one real `yiwang serve --demo` (its demo
// operators, its simulated sensor fleet in the background):
//   1. the dispatcher (command centre) is signed in with the live map open;
//   2. a citizen on a phone files a report: category, description, a tap on the map in 江北区,
//      a photo (3000x2000: the page scales it down before upload) -> a tracking code, and opens
//      the tracking page;
//   3. the dispatcher's map shows the new case without a reload; the dispatcher opens it,
//      accepts it and transfers it to 江北区城市管理局 with the department picker;
//   4. the department user (signed in meanwhile) sees it arrive live, reports it handled with a
//      note and an after-photo;
//   5. the supervisor verifies it (pass) and closes it; it leaves the dispatcher's map live;
//   6. the citizen's tracking page shows it closed with the after-photo, and the citizen rates
//      it (stars, "fixed", a comment).
// Screenshots of every step: build/artifacts/flow-*.png.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { assertClean, districtSpot, kPhone, makeJpeg, mapSettled, openPage, screenshot,
         serverAndBrowser, waitReady } from './harness.mjs';
import { act, actionNames, demoPasswords, kWait, marker, openCase, signIn,
         waitState } from './operator_console.mjs';

const kJiangbei = '500105';  // 江北区: the demo department user's district

const env = serverAndBrowser({ args: ['--demo'] });

function noReloads(page) {
  const loads = [];
  page.on('load', () => loads.push(page.url()));
  return loads;
}

test('a citizen report from the phone to closed and rated, every step in a browser', async () => {
  const { server, browser } = env;
  const passwords = demoPasswords(server);

  // 1. The dispatcher, signed in, the live map open.
  const dispatcher = await signIn(browser, server, 'dispatcher', passwords.dispatcher);
  const dispatcherLoads = noReloads(dispatcher.page);
  await screenshot(dispatcher.page, 'flow-01-dispatcher-map');

  // 2. The citizen files the report on a phone.
  const citizen = await openPage(browser, server, '/report', kPhone);
  const { page: phone } = citizen;
  await waitReady(phone);
  await phone.waitForFunction(() => document.querySelectorAll('#category option').length > 10);
  await phone.selectOption('#category', 'event:0111');
  await phone.fill('#description', '北城天街路口路面积水，行人无法通过');
  // A tap on 江北区 (the first tap also zooms the map in on it).
  const spot = await districtSpot(phone, 'report-map', { code: kJiangbei });
  assert.ok(spot, '江北区 is not on the report map');
  await phone.touchscreen.tap(spot.x, spot.y);
  await phone.waitForFunction(() => document.getElementById('location-text').dataset.kind === 'ok');
  assert.match(await phone.locator('#location-text').textContent(), /^已选位置：江北区 /);
  await mapSettled(phone);
  const photo = await makeJpeg(phone, 3000, 2000, '积水');
  await phone.setInputFiles('#photos', { name: 'street.jpg', mimeType: 'image/jpeg', buffer: photo });
  assert.equal(await phone.locator('#photo-previews img').count(), 1);
  await screenshot(phone, 'flow-02-citizen-form', { fullPage: true });
  const uploaded = phone.waitForResponse((r) => r.url().endsWith('/api/v1/photos'));
  await phone.click('#submit');
  const upload = await (await uploaded).json();
  assert.equal(upload.type, 'image/jpeg');
  assert.equal(upload.width, 2560, 'downscaled to 2560 px on the long side');
  assert.equal(upload.height, 1707);
  await phone.waitForSelector('#done-section', { state: 'visible' });
  const code = (await phone.locator('#tracking-code').textContent()).trim();
  assert.match(code, /^[2-9A-Z]{10}$/);
  assert.equal(await phone.locator('#linked-note').isHidden(), true);
  await screenshot(phone, 'flow-03-citizen-code', { fullPage: true });
  await phone.click('#track-link');
  await waitReady(phone);
  assert.equal(await phone.locator('#state-text').textContent(), '已收到，等待受理');
  assert.equal(await phone.locator('#rating').isHidden(), true);
  await screenshot(phone, 'flow-04-citizen-tracking', { fullPage: true });
  // Which case the tracking code names (what the page read; nothing is changed by it).
  const { caseId } = await phone.evaluate((c) => fetch(`/api/v1/track/${c}`).then((r) => r.json()), code);
  assert.ok(caseId);

  // 3. The dispatcher's map shows it without a reload, with the citizen's photo in its panel.
  const d = dispatcher.page;
  await marker(d, caseId).waitFor({ state: 'attached', ...kWait });
  await d.locator(`#recent-list li[data-case-id="${caseId}"]`).waitFor();
  assert.deepEqual(dispatcherLoads, [], 'the dispatcher\'s page reloaded');
  await screenshot(d, 'flow-05-dispatcher-new-case');
  await openCase(d, caseId);
  const panel = d.locator('#case-panel');
  assert.equal(await panel.locator('.case-title').textContent(), '道路积水');
  assert.equal(await panel.locator('.state-badge').textContent(), '待受理');
  assert.match(await panel.locator('dl.case-facts').textContent(), /市民上报[\s\S]*江北区[\s\S]*北城天街路口路面积水/);
  assert.doesNotMatch(await panel.textContent(), /null|undefined|NaN/);
  assert.equal(await panel.locator('.photo-strip img').count(), 1);
  // The buttons are the server's allowedActions for a dispatcher.
  const detail = await d.evaluate((id) => fetch(`/api/v1/cases/${id}`).then((r) => r.json()), caseId);
  assert.deepEqual(await actionNames(d), detail.allowedActions);
  await screenshot(d, 'flow-06-dispatcher-case');
  await act(d, 'accept');
  await waitState(d, 'pending_dispatch');

  // The department user signs in meanwhile: the case is not theirs yet.
  const department = await signIn(browser, server, 'cgj-jiangbei', passwords['cgj-jiangbei']);
  const departmentLoads = noReloads(department.page);
  assert.equal(await marker(department.page, caseId).count(), 0);

  // Transfer: the picker lists the departments serving 江北区 for this category, and only those;
  // confirming without a choice is refused in words.
  await d.click('#case-panel button[data-action="transfer"]');
  await d.locator('#action-dialog[open] #dialog-department').waitFor();
  const options = await d.locator('#dialog-department option').evaluateAll((els) =>
    els.map((e) => e.value).filter(Boolean));
  const config = await d.evaluate(() => fetch('/api/v1/ui-config').then((r) => r.json()));
  const serving = config.departments.filter((x) => x.districts.includes(kJiangbei) &&
    (x.categories.includes('*') || x.categories.includes('event:0111'))).map((x) => x.id);
  assert.deepEqual(options, serving);
  assert.ok(options.includes('cgj-500105') && !options.includes('cgj-500103'), options.join(','));
  await d.click('#action-confirm');
  assert.equal(await d.locator('#action-dialog .dialog-error').textContent(), '请选择部门');
  await d.selectOption('#dialog-department', 'cgj-500105');
  assert.equal(await d.locator('#action-dialog .dialog-error').isHidden(), true, 'a stale error');
  await d.fill('#dialog-note', '请江北区城管局处理');
  await screenshot(d, 'flow-07-dispatcher-transfer');
  await d.click('#action-confirm');
  await waitState(d, 'handling');
  assert.match(await panel.locator('.timeline li[data-action="transfer"]').first().textContent(),
               /派遣转办 → 江北区城市管理局[\s\S]*dispatcher · 派遣员[\s\S]*请江北区城管局处理/);
  await assertClean(d, dispatcher.problems);

  // 4. The department user sees it arrive live and handles it: a note and an after-photo are
  //    required, and said so in words before anything is sent.
  const g = department.page;
  await marker(g, caseId).waitFor({ state: 'attached', ...kWait });
  await g.locator(`#recent-list li[data-case-id="${caseId}"]`).waitFor();
  await screenshot(g, 'flow-08-department-new-case');
  await openCase(g, caseId, { link: true });
  await g.click('#case-panel button[data-action="report_handled"]');
  await g.locator('#action-dialog[open]').waitFor();
  await g.click('#action-confirm');
  assert.equal(await g.locator('#action-dialog .dialog-error').textContent(), '请填写说明');
  await g.fill('#dialog-note', '已疏通排水口，路面积水已排除');
  assert.equal(await g.locator('#action-dialog .dialog-error').isHidden(), true, 'a stale error');
  await g.click('#action-confirm');
  assert.equal(await g.locator('#action-dialog .dialog-error').textContent(), '请附上处置照片');
  const afterPhoto = await makeJpeg(g, 800, 600, '已疏通');
  await g.setInputFiles('#dialog-photo', { name: 'after.jpg', mimeType: 'image/jpeg', buffer: afterPhoto });
  assert.equal(await g.locator('#action-dialog .dialog-error').isHidden(), true, 'a stale error');
  await screenshot(g, 'flow-09-department-handle');
  await g.click('#action-confirm');
  await waitState(g, 'pending_verify');
  await g.waitForFunction(() => document.querySelectorAll('#case-panel .photo-strip img').length === 2);
  assert.match(await g.locator('#case-panel .timeline li[data-action="report_handled"]').textContent(),
               /处置反馈[\s\S]*cgj-jiangbei · 专业部门[\s\S]*已疏通排水口/);
  assert.deepEqual(await actionNames(g), [], 'nothing more for the department');
  assert.deepEqual(departmentLoads, [], 'the department\'s page reloaded');
  await screenshot(g, 'flow-10-department-handled');
  await assertClean(g, department.problems);
  await department.context.close();

  // 5. The supervisor verifies and closes it; it leaves the dispatcher's map of open cases.
  const supervisor = await signIn(browser, server, 'supervisor', passwords.supervisor);
  const s = supervisor.page;
  await openCase(s, caseId, { link: true });
  await act(s, 'verify_pass');
  await waitState(s, 'verified');
  await act(s, 'close');
  await waitState(s, 'closed');
  assert.equal(await s.locator('#case-panel .state-badge').textContent(), '已结案');
  await screenshot(s, 'flow-11-supervisor-closed');
  await assertClean(s, supervisor.problems);
  await supervisor.context.close();
  await marker(d, caseId).waitFor({ state: 'detached', ...kWait });
  assert.deepEqual(dispatcherLoads, [], 'the dispatcher\'s page reloaded');
  await assertClean(d, dispatcher.problems);
  await dispatcher.context.close();

  // 6. The citizen looks again: closed, the after-photo, the rating form; rates it.
  await phone.click('#track-form button[type="submit"]');
  await phone.waitForFunction(() => document.getElementById('state-text').textContent === '已办结');
  const timeline = await phone.locator('#timeline li span').allTextContents();
  assert.deepEqual(timeline, ['问题已上报', '已受理立案', '已派遣至江北区城市管理局',
                              '已处理：已疏通排水口，路面积水已排除', '核查通过', '已办结']);
  assert.equal(await phone.locator('#after-photos img').count(), 1);
  await phone.waitForFunction(() => document.querySelector('#after-photos img')?.naturalWidth === 800);
  assert.equal(await phone.locator('#rating').isVisible(), true);
  await screenshot(phone, 'flow-12-citizen-closed', { fullPage: true });
  await phone.check('#stars input[value="5"]');
  await phone.check('input[name="fixed"][value="yes"]');
  await phone.fill('#comment', '处理很快，谢谢');
  await phone.click('#rating-form button[type="submit"]');
  await phone.waitForSelector('#rated', { state: 'visible' });
  assert.equal(await phone.locator('#rated-text').textContent(), '您的评价：5 星：处理很快，谢谢');
  assert.equal(await phone.locator('#state-text').textContent(), '已办结');
  assert.equal(await phone.locator('#rating').isHidden(), true);
  await screenshot(phone, 'flow-13-citizen-rated', { fullPage: true });
  await assertClean(phone, citizen.problems);
  await citizen.context.close();
});
