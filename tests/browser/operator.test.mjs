// The operator console against the real server started with --demo (one user per role, passwords
// in DATA/demo-users.txt, a simulated sensor fleet in-process), in headless Chromium:
//   (a) the dispatcher signs in and sees a case appear on the live map without reloading when
//       it is filed meanwhile (POST /api/v1/cases with a bearer token, source patrol), opens it,
//       accepts it and transfers it with the department picker;
//   (b) the department user (cgj-jiangbei) sees it and reports it handled with a note (and a
//       photo when the server has POST /api/v1/photos);
//   (c) the supervisor verifies and closes it, and (d) a second supervisor window acting on a
//       stale view gets the server's 409 in words, with the actions allowed now;
//   (f) the leader sees the case and no action button;
//   (g) the dashboard's numbers are /api/v1/stats's;
//   (e) a sensor alarm from the simulator (yiwang sim --anomaly-scale 500) appears and flashes.
// Screenshots: build/artifacts/console-*.png.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { assertClean, binary, launchBrowser, openPage, screenshot, startServer,
         waitReady } from './harness.mjs';

const kViewport = { viewport: { width: 1440, height: 900 } };
const kPng = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64');
const kWait = { timeout: 30000 };

let server;
let browser;
let passwords;
let adminToken;
before(async () => {
  server = await startServer({ args: ['--demo'] });
  browser = await launchBrowser();
  const data = join(server.dir, 'data');
  passwords = Object.fromEntries(readFileSync(join(data, 'demo-users.txt'), 'utf8').trim().split('\n')
    .map((line) => line.trim().split(/\s+/)));
  adminToken = readFileSync(join(data, 'bootstrap-admin.token'), 'utf8').split('\n')[0].trim();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

async function api(method, path, body, token = adminToken, srv = server) {
  const res = await fetch(srv.url + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

// A new window signed in as `user` through the login form, with the cases drawn.
async function signIn(user, { shot = null, srv = server, password = passwords[user],
                              apiErrorsExpected = false, beforeLoad = null } = {}) {
  const opened = await openPage(browser, srv, '/', { ...kViewport, apiErrorsExpected, beforeLoad });
  const { page } = opened;
  await waitReady(page);
  await page.locator('#login-area form.login-form').waitFor();
  if (shot) await screenshot(page, shot);
  await page.fill('#login-area input[name=username]', user);
  await page.fill('#login-area input[name=password]', password);
  await page.click('#login-area button[type=submit]');
  await page.waitForSelector('body[data-cases="ready"][data-live="online"]', { state: 'attached', ...kWait });
  assert.equal(await page.locator('#login-area .login-user').getAttribute('data-user'), user);
  return opened;
}

function marker(page, id) {
  return page.locator(`.case-marker[data-case-id="${id}"]`).first();
}

// Opens case `id` from its marker. With `link`, first follows the console's link to the case
// (#case=ID: the map flies to it, close enough that it is a marker of its own).
async function openCase(page, id, { link = false } = {}) {
  if (link) await page.evaluate((i) => { location.hash = `case=${i}`; }, id);
  await marker(page, id).waitFor({ state: 'attached', ...kWait });
  await marker(page, id).click();
  await page.waitForSelector(`#case-panel[data-case-id="${id}"][data-loaded="true"]`, { state: 'attached', ...kWait });
}

async function actionNames(page) {
  return page.locator('#case-panel button[data-action]').evaluateAll((els) => els.map((e) => e.dataset.action));
}

// Presses the action button and confirms the dialog; `fill(page)` fills its fields first.
async function act(page, action, fill = async () => {}) {
  await page.click(`#case-panel button[data-action="${action}"]`);
  await page.locator('#action-dialog[open] form').waitFor();
  await fill(page);
  await page.click('#action-confirm');
}

async function waitState(page, state) {
  const done = page.locator(`#case-panel[data-state="${state}"][data-loaded="true"]`);
  const error = page.locator('#action-dialog[open] .dialog-error[data-kind="error"]');
  await done.or(error).first().waitFor({ state: 'attached', ...kWait });
  if (await error.count()) assert.fail(`expected ${state}; the dialog says: ${await error.textContent()}`);
  await page.locator('#action-dialog[open]').waitFor({ state: 'detached', ...kWait });
}

let caseId = null;  // the case the workflow tests carry along

test('(a) the dispatcher sees a new case appear live, accepts it and transfers it', async () => {
  const { context, page, problems } = await signIn('dispatcher', { shot: 'console-login' });
  assert.equal(await page.locator('#tab-dashboard').isDisabled(), false);
  const before = Number(await page.getAttribute('#map', 'data-points'));
  const loads = [];
  page.on('load', () => loads.push('load'));

  // Filed meanwhile by someone else (a patrol through the API).
  const filed = await api('POST', '/api/v1/cases', {
    category: '0101', district: '500105', source: 'patrol', urgency: 'urgent',
    description: '北城天街人行道上水井盖松动（浏览器测试）', location: { lat: 29.5747, lon: 106.5369 },
  });
  assert.equal(filed.status, 201, JSON.stringify(filed.body));
  caseId = filed.body.case.id;

  await marker(page, caseId).waitFor({ state: 'attached', ...kWait });
  assert.deepEqual(loads, [], 'the page reloaded');
  assert.match(await marker(page, caseId).getAttribute('class'), /\burgency-urgent\b/);
  assert.match(await marker(page, caseId).getAttribute('class'), /\blevel-on-time\b/);
  await page.waitForFunction((n) => Number(document.getElementById('map').dataset.points) === n + 1,
                             before, kWait);
  await page.locator(`#recent-list li[data-case-id="${caseId}"]`).waitFor();
  await screenshot(page, 'console-live');

  await openCase(page, caseId);
  const panel = page.locator('#case-panel');
  assert.equal(await panel.locator('.case-title').textContent(), '上水井盖');
  assert.equal(await panel.locator('.state-badge').textContent(), '待受理');
  assert.equal(await panel.locator('.sla-badge').getAttribute('data-level'), 'on_time');
  assert.match(await panel.textContent(), /北城天街人行道上水井盖松动/);
  assert.doesNotMatch(await panel.textContent(), /null|undefined|NaN/);
  assert.match(await panel.locator('.timeline li[data-action="create"]').textContent(), /立案登记/);
  // The buttons are the server's allowedActions for a dispatcher on a new case.
  const detail = await page.evaluate((id) => fetch(`/api/v1/cases/${id}`).then((r) => r.json()), caseId);
  assert.deepEqual(await actionNames(page), detail.allowedActions);
  assert.ok(detail.allowedActions.includes('accept'), JSON.stringify(detail.allowedActions));
  assert.equal(await page.locator('#case-panel button[data-action="accept"]').textContent(), '受理立案');
  await screenshot(page, 'console-case');

  await act(page, 'accept');
  await waitState(page, 'pending_dispatch');
  assert.match(await panel.locator('.case-message').textContent(), /受理立案/);

  // Transfer: the picker lists the departments serving 江北区 (500105), and only those.
  await page.click('#case-panel button[data-action="transfer"]');
  await page.locator('#action-dialog[open] #dialog-department').waitFor();
  const options = await page.locator('#dialog-department option').evaluateAll((els) =>
    els.map((e) => e.value).filter(Boolean));
  const config = await page.evaluate(() => fetch('/api/v1/ui-config').then((r) => r.json()));
  const serving = config.departments.filter((d) => d.districts.includes('500105') &&
    (d.categories.includes('*') || d.categories.includes('0101'))).map((d) => d.id);
  assert.deepEqual(options, serving);
  assert.ok(options.includes('cgj-500105'));
  assert.ok(!options.includes('cgj-500103'));
  // Confirming without a choice is refused in words, nothing is sent.
  await page.click('#action-confirm');
  assert.equal(await page.locator('#action-dialog .dialog-error').textContent(), '请选择部门');
  await page.selectOption('#dialog-department', 'cgj-500105');
  await page.fill('#dialog-note', '请江北区城管局处理');
  await screenshot(page, 'console-dialog');
  await page.click('#action-confirm');
  await waitState(page, 'handling');
  assert.match(await panel.locator('dl.case-facts').textContent(), /江北区城市管理局/);
  assert.match(await panel.locator('.timeline li[data-action="transfer"]').first().textContent(),
               /派遣转办 → 江北区城市管理局[\s\S]*dispatcher · 派遣员[\s\S]*请江北区城管局处理/);
  const after = await api('GET', `/api/v1/cases/${caseId}`);
  assert.equal(after.body.case.state, 'CASE_STATE_HANDLING');
  assert.equal(after.body.case.department, 'cgj-500105');
  await assertClean(page, problems);
  await context.close();
});

test('(b) the department user handles it with a note and a photo', async () => {
  assert.ok(caseId, 'test (a) filed no case');
  // The photo upload's 404 is expected on a server without the photos endpoint.
  const { context, page, problems } = await signIn('cgj-jiangbei', { apiErrorsExpected: true });
  // The department sees its own cases only: this one is among them.
  const points = await page.evaluate(() => fetch('/api/v1/cases/points?open=true').then((r) => r.json()));
  assert.ok(points.points.some((p) => p[0] === caseId));
  await openCase(page, caseId, { link: true });
  assert.ok((await actionNames(page)).includes('report_handled'));
  // A note is required for the feedback; the dialog says so before sending anything.
  await page.click('#case-panel button[data-action="report_handled"]');
  await page.locator('#action-dialog[open]').waitFor();
  await page.click('#action-confirm');
  assert.equal(await page.locator('#action-dialog .dialog-error').textContent(), '请填写说明');

  // 处置反馈 needs evidence (the server refuses it without): a photo is required in words too.
  await page.fill('#dialog-note', '已更换井盖并加固');
  await page.click('#action-confirm');
  assert.equal(await page.locator('#action-dialog .dialog-error').textContent(), '请附上处置照片');

  // The department attaches the after-photo in the dialog: uploaded (POST /api/v1/photos),
  // then sent as the evidence of its report; the panel shows it.
  await page.setInputFiles('#dialog-photo', { name: 'after.png', mimeType: 'image/png', buffer: kPng });
  await page.click('#action-confirm');
  await waitState(page, 'pending_verify');
  await page.locator('#case-panel .photo-strip img').first().waitFor();
  const entry = page.locator('#case-panel .timeline li[data-action="report_handled"]');
  assert.match(await entry.textContent(), /处置反馈[\s\S]*cgj-jiangbei · 专业部门[\s\S]*已更换井盖并加固/);
  // Nothing more for the department now.
  assert.deepEqual(await actionNames(page), []);
  await assertClean(page, problems);
  await context.close();
});

test('(c, d) the supervisor verifies and closes; a stale window gets the 409 in words', async () => {
  assert.ok(caseId, 'test (a) filed no case');
  const a = await signIn('supervisor', { apiErrorsExpected: true });  // the 409 is expected
  const b = await signIn('supervisor');
  await openCase(a.page, caseId, { link: true });
  await openCase(b.page, caseId, { link: true });
  assert.ok((await actionNames(a.page)).includes('verify_pass'));

  // Window A opens the confirmation of 核查通过 and waits; window B verifies meanwhile.
  await a.page.click('#case-panel button[data-action="verify_pass"]');
  await a.page.locator('#action-dialog[open]').waitFor();
  await act(b.page, 'verify_pass');
  await waitState(b.page, 'verified');

  // A's confirmation is now an illegal transition: the server's message and what is allowed.
  await a.page.click('#action-confirm');
  const error = a.page.locator('#action-dialog .dialog-error[data-kind="error"]');
  await error.waitFor();
  const text = await error.textContent();
  // In words: which action failed, why, and the actions allowed now (the server's own message
  // follows in brackets).
  const words = /^“核查通过”现在不能执行：案件已有变化。此案件现在允许的操作：(.*)（服务器：(.*)）$/.exec(text);
  assert.ok(words, text);
  assert.deepEqual(words[1].split('、'), ['核查不通过（返工）', '结案']);
  assert.match(words[2], /verify_pass/);
  await screenshot(a.page, 'console-conflict');
  // The panel behind shows the case as it is now.
  await a.page.waitForSelector('#case-panel[data-state="verified"]', { state: 'attached', ...kWait });
  await a.page.click('#action-cancel');
  await act(a.page, 'close');
  await waitState(a.page, 'closed');
  assert.equal(await a.page.locator('#case-panel .state-badge').textContent(), '已结案');
  const closed = await api('GET', `/api/v1/cases/${caseId}`);
  assert.equal(closed.body.case.state, 'CASE_STATE_CLOSED');
  // Closed cases leave the map of open cases, live in the other window too.
  await b.page.locator(`.case-marker[data-case-id="${caseId}"]`).waitFor({ state: 'detached', ...kWait });
  for (const w of [a, b]) {
    await assertClean(w.page, w.problems);
    await w.context.close();
  }
});

test('(f) the leader sees cases and no action button', async () => {
  // A fresh open case for the leader to look at.
  const filed = await api('POST', '/api/v1/cases', {
    category: '0101', district: '500105', source: 'hotline', description: '12319 来电：井盖缺失',
    location: { lat: 29.58, lon: 106.54 },
  });
  assert.equal(filed.status, 201);
  const id = filed.body.case.id;
  const { context, page, problems } = await signIn('leader');
  await openCase(page, id, { link: true });
  assert.equal(await page.locator('#case-panel button[data-action]').count(), 0);
  assert.equal(await page.locator('#case-panel .no-actions').textContent(), '您的角色对此案件没有可执行的操作');
  const detail = await page.evaluate((i) => fetch(`/api/v1/cases/${i}`).then((r) => r.json()), id);
  assert.deepEqual(detail.allowedActions, []);
  await screenshot(page, 'console-leader');
  await assertClean(page, problems);
  await context.close();
});

test('(g) the dashboard shows /api/v1/stats', async () => {
  const { context, page, problems } = await signIn('supervisor');
  await page.click('#tab-dashboard');
  await page.waitForSelector('#view-dashboard[data-ready="true"]', { state: 'attached', ...kWait });
  const stats = await page.evaluate(() => fetch('/api/v1/stats').then((r) => r.json()));
  const value = (sel) => page.locator(sel).getAttribute('data-value');
  assert.equal(Number(await value('#kpi-close-rate')), stats.total.closeRate);
  assert.ok(stats.total.closeRate > 0, 'the workflow test closed a case');
  assert.equal(await page.locator('#kpi-close-rate').textContent(), `${(stats.total.closeRate * 100).toFixed(1)}%`);
  assert.equal(Number(await value('#kpi-on-time-close-rate')), stats.total.onTimeCloseRate);
  assert.equal(Number(await value('#kpi-overdue')), Number(stats.open.overdue ?? 0));
  assert.equal(Number(await value('#kpi-open')), Number(stats.open.open ?? 0));
  const byState = await page.locator('.by-state li').evaluateAll((els) =>
    Object.fromEntries(els.map((e) => [e.dataset.state, Number(e.dataset.value)])));
  assert.deepEqual(byState, stats.open.byState);
  // Rankings: 江北区 and its department are there with the API's close rate.
  const district = await page.evaluate(() => fetch('/api/v1/stats?by=district').then((r) => r.json()));
  const jb = district.rows.find((r) => r.key.district === '500105');
  const row = page.locator('#ranking-district tr[data-key="500105"]');
  assert.match(await row.textContent(), /江北区/);
  assert.equal(Number(await row.locator('td[data-value]').getAttribute('data-value')), jb.report.closeRate);
  const department = await page.evaluate(() => fetch('/api/v1/stats?by=department').then((r) => r.json()));
  const cgj = department.rows.find((r) => r.key.department === 'cgj-500105');
  const deptRow = page.locator('#ranking-department tr[data-key="cgj-500105"]');
  assert.match(await deptRow.textContent(), /江北区城市管理局/);
  assert.equal(Number(await deptRow.locator('td[data-value]').getAttribute('data-value')),
               cgj.report.onTimeHandleRate);
  const days = Number(await page.getAttribute('#trend-chart', 'data-days'));
  assert.ok(days >= 1);
  await page.locator('#trend-chart svg').waitFor();
  // Live rates arrive from the feed's ticks (the demo fleet reports every few seconds).
  await page.waitForFunction(() => document.querySelector('#live-eps')?.dataset.value > 0, null, kWait);
  await screenshot(page, 'console-dashboard');
  await assertClean(page, problems);
  await context.close();
});

test('(e) a sensor alarm from the simulator appears and flashes', async () => {
  // A server of its own without the demo fleet, so that the simulator's devices are its only
  // ones; a dispatcher created through the admin API.
  const own = await startServer();
  const token = readFileSync(join(own.dir, 'data', 'bootstrap-admin.token'), 'utf8').split('\n')[0].trim();
  const created = await api('POST', '/api/v1/admin/users',
                            { username: 'disp', password: 'correct horse 12', role: 'dispatcher' }, token, own);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const { context, page, problems } = await signIn('disp', { srv: own, password: 'correct horse 12' });
  assert.equal(await page.getAttribute('#map', 'data-points'), '0');
  const sim = spawn(binary, ['sim', '--url', own.url, '--admin-token-file',
                             join(own.dir, 'data', 'bootstrap-admin.token'), '--devices', '60',
                             '--interval-s', '2', '--anomaly-scale', '500', '--districts', '500105',
                             '--seed', '7', '--log-level', 'warn'], { stdio: 'ignore' });
  try {
    const flash = page.locator('.case-marker.flash.sensor');
    await flash.first().waitFor({ state: 'attached', timeout: 150000 });
    const id = await flash.first().getAttribute('data-case-id');
    assert.match(await flash.first().getAttribute('class'), /\balarming\b/);
    // The animation really runs on it.
    const animation = await flash.first().evaluate((el) => getComputedStyle(el).animationName);
    assert.equal(animation, 'marker-flash');
    await screenshot(page, 'console-alarm');
    // Its panel charts the device's readings. (Alarms of one storm come in bunches and their
    // flashing markers overlap at this zoom: open it by its link, which zooms in on it.)
    await openCase(page, id, { link: true });
    await page.waitForSelector('#readings-chart[data-ready="true"] svg', { state: 'attached', ...kWait });
    assert.ok(Number(await page.getAttribute('#readings-chart', 'data-points')) > 0);
    assert.doesNotMatch(await page.locator('#case-panel').textContent(), /null|undefined|NaN/);
    assert.equal(await page.locator('#case-panel .case-facts').getByText(/^sim-/).count(), 1);
    await screenshot(page, 'console-sensor-case');
  } finally {
    sim.kill('SIGTERM');
  }
  await assertClean(page, problems);
  await context.close();
  await own.stop();
});

test('(h) after the feed drops it reconnects and resyncs without a reload', async () => {
  // The page's /ws/live goes through the test: passed on to the server while the "network" is
  // up; dropped (and every reconnection attempt refused) while it is down.
  let down = false;
  const sockets = [];
  const { context, page, problems } = await signIn('dispatcher', {
    beforeLoad: (p) => p.routeWebSocket(/\/ws\/live$/, (ws) => {
      if (down) return ws.close({ code: 4000, reason: 'test: network down' });
      ws.connectToServer();
      sockets.push(ws);
    }),
  });
  const loads = [];
  page.on('load', () => loads.push('load'));
  down = true;
  for (const ws of sockets) await ws.close({ code: 4000, reason: 'test: network down' });
  await page.waitForSelector('body[data-live="offline"]', { state: 'attached', ...kWait });
  assert.match(await page.locator('#live-status').textContent(), /实时连接已断开，\d+ 秒后重连/);
  await screenshot(page, 'console-offline');
  // Filed while this window cannot hear about it.
  const filed = await api('POST', '/api/v1/cases', {
    category: '0101', district: '500103', source: 'patrol', description: '断线期间立案',
    location: { lat: 29.557, lon: 106.577 },
  });
  assert.equal(filed.status, 201);
  const id = filed.body.case.id;
  assert.equal(await page.locator(`.case-marker[data-case-id="${id}"]`).count(), 0);
  down = false;
  await page.waitForSelector('body[data-live="online"][data-cases="ready"]', { state: 'attached', timeout: 60000 });
  // The resync refetched the points: the map holds every open case the API lists, this one too.
  const points = await page.evaluate(() => fetch('/api/v1/cases/points?open=true').then((r) => r.json()));
  assert.ok(points.points.some((p) => p[0] === id));
  await page.waitForFunction((n) => Number(document.getElementById('map').dataset.points) === n,
                             points.total, kWait);
  await page.evaluate((i) => { location.hash = `case=${i}`; }, id);
  await marker(page, id).waitFor({ state: 'attached', ...kWait });
  assert.deepEqual(loads, [], 'the page reloaded');
  await assertClean(page, problems);
  await context.close();
});
