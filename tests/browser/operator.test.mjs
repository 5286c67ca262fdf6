// The operator console against the real server started with --demo (one user per role,
// passwords in DATA/demo-users.txt, a simulated sensor fleet in-process), in headless Chromium,
// for what the whole loop of flow.test.mjs does not show:
//   (d) two supervisor windows on one case: the one acting on a stale view gets the server's
//       409 in words, with the actions allowed now, and closes the case from there;
//   (f) the leader sees the case and no action button;
//   (g) the dashboard's numbers are /api/v1/stats's;
//   (e) a sensor alarm from the simulator (yiwang sim --anomaly-scale 500) appears and flashes;
//   (h) after the live feed drops, the console reconnects and resyncs without a reload;
//   (i) an account disabled while its map is open: the feed ends and the page signs out.
// Cases the tests start from are filed and moved through the HTTP API (the browser steps of the
// workflow are flow.test.mjs's). Screenshots: build/artifacts/console-*.png.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

import { assertClean, binary, screenshot, serverAndBrowser, startServer } from './harness.mjs';
import { act, actionNames, adminToken as readAdminToken, demoPasswords, kWait, marker, openCase,
         signIn as signInAs, waitState } from './operator_console.mjs';

const kPng = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64');

const env = serverAndBrowser({ args: ['--demo'] });

async function api(method, path, body, token = readAdminToken(env.server), srv = env.server) {
  const res = await fetch(srv.url + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

// A new window of the demo server (or `srv`) signed in as `user`.
function signIn(user, { srv = env.server, password = null, ...options } = {}) {
  return signInAs(env.browser, srv, user, password ?? demoPasswords(env.server)[user], options);
}

test('(d) a supervisor acting on a stale view gets the 409 in words, then closes', async () => {
  // A case waiting for verification: filed, accepted, transferred and handled through the API.
  const filed = await api('POST', '/api/v1/cases', {
    category: '0101', district: '500105', source: 'patrol', urgency: 'urgent',
    description: '北城天街人行道上水井盖松动（浏览器测试）', location: { lat: 29.5747, lon: 106.5369 },
  });
  assert.equal(filed.status, 201, JSON.stringify(filed.body));
  const caseId = filed.body.case.id;
  const photo = await fetch(`${env.server.url}/api/v1/photos`, {
    method: 'POST', headers: { 'Content-Type': 'image/png' }, body: kPng });
  assert.equal(photo.status, 201);
  const { photoId } = await photo.json();
  const department = await api('POST', '/api/v1/admin/users/cgj-jiangbei/tokens', {});
  assert.equal(department.status, 201, JSON.stringify(department.body));
  for (const [step, token] of [[{ action: 'accept' }], [{ action: 'transfer', department: 'cgj-500105' }],
                               [{ action: 'report_handled', note: '已更换井盖并加固', evidence: [`photo:${photoId}`] },
                                department.body.token]]) {
    const r = await api('POST', `/api/v1/cases/${caseId}/transitions`, step, token);
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }

  const a = await signIn('supervisor', { apiErrorsExpected: true, shot: 'console-login' });  // the 409 is expected
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
  const token = readAdminToken(own);
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

test('(i) an account disabled while its map is open is signed out within seconds', async () => {
  const user = 'disabled-while-watching';
  const password = 'correct horse 13';
  const made = await api('POST', '/api/v1/admin/users',
                         { username: user, password, role: 'dispatcher' });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  // The session check after the feed's close answers 401: an expected API error.
  const { context, page, problems } = await signIn(user, { password, apiErrorsExpected: true });
  const loads = [];
  page.on('load', () => loads.push('load'));
  const disabled = await api('PATCH', `/api/v1/admin/users/${user}`, { disabled: true });
  assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
  // The server ends the feed (1008); the page asks for its session, gets 401 and shows the form.
  await page.locator('#login-area form.login-form').waitFor(kWait);
  // And says why.
  await page.locator('#login-area .message', { hasText: '登录已失效' }).waitFor(kWait);
  assert.equal(await page.locator('#login-area .message').textContent(),
               '登录已失效（已退出、账号停用或权限变更），请重新登录');
  await page.waitForFunction(() => !document.body.dataset.role && !document.body.dataset.cases,
                             null, kWait);
  assert.equal(await page.locator('.case-marker').count(), 0, 'cases stay on a signed-out map');
  await screenshot(page, 'console-account-disabled');
  assert.deepEqual(loads, [], 'the page reloaded');
  await assertClean(page, problems);
  await context.close();
});
