// Helpers that drive the operator console (/) as a person does: sign in through the login form,
// open a case from its marker, press an action button and confirm its dialog. Shared by the
// browser tests of the console (operator.test.mjs, flow.test.mjs).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { openPage, screenshot, waitReady } from './harness.mjs';

export const kDesktop = { viewport: { width: 1440, height: 900 } };
export const kWait = { timeout: 30000 };

// The demo users' passwords of a server started with --demo ({name: password}).
export function demoPasswords(server) {
  return Object.fromEntries(readFileSync(join(server.dir, 'data', 'demo-users.txt'), 'utf8').trim()
    .split('\n').map((line) => line.trim().split(/\s+/)));
}

// The bootstrap admin's bearer token of `server`.
export function adminToken(server) {
  return readFileSync(join(server.dir, 'data', 'bootstrap-admin.token'), 'utf8').split('\n')[0].trim();
}

// A new window (its own browser context) signed in as `user` through the login form, once the
// cases are drawn and the live feed is online. `shot` names a screenshot of the login form.
export async function signIn(browser, server, user, password,
                             { shot = null, apiErrorsExpected = false, beforeLoad = null } = {}) {
  const opened = await openPage(browser, server, '/', { ...kDesktop, apiErrorsExpected, beforeLoad });
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

export function marker(page, id) {
  return page.locator(`.case-marker[data-case-id="${id}"]`).first();
}

// Opens case `id` from its marker. With `link`, first follows the console's link to the case
// (#case=ID: the map flies to it, close enough that it is a marker of its own). Clicks the
// marker once it stands still (not while the map flies), as a person would.
export async function openCase(page, id, { link = false } = {}) {
  if (link) await page.evaluate((i) => { location.hash = `case=${i}`; }, id);
  await marker(page, id).waitFor({ state: 'attached', ...kWait });
  // Still: at the same place for three polls in a row (frames are slow on a busy machine), and
  // after a link in the middle of the map, where the flight ends.
  await page.waitForFunction(({ i, centred }) => {
    const r = document.querySelector(`.case-marker[data-case-id="${i}"]`)?.getBoundingClientRect();
    const m = document.getElementById('map').getBoundingClientRect();
    const at = r ? `${Math.round(r.x)},${Math.round(r.y)}` : '';
    window.__markerAt = [at, ...(window.__markerAt ?? [])].slice(0, 3);
    if (!r || window.__markerAt.some((a) => a !== at)) return false;
    return !centred || (Math.abs(r.x + r.width / 2 - (m.x + m.width / 2)) < 3 &&
                        Math.abs(r.y + r.height / 2 - (m.y + m.height / 2)) < 3);
  }, { i: id, centred: link }, { polling: 100, ...kWait });
  await marker(page, id).click();
  await page.waitForSelector(`#case-panel[data-case-id="${id}"][data-loaded="true"]`, { state: 'attached', ...kWait });
}

export async function actionNames(page) {
  return page.locator('#case-panel button[data-action]').evaluateAll((els) => els.map((e) => e.dataset.action));
}

// Presses the action button and confirms the dialog; `fill(page)` fills its fields first.
export async function act(page, action, fill = async () => {}) {
  await page.click(`#case-panel button[data-action="${action}"]`);
  await page.locator('#action-dialog[open] form').waitFor();
  await fill(page);
  await page.click('#action-confirm');
}

// Waits until the panel shows the case in `state` and the dialog has closed; fails with the
// dialog's error if the action was refused.
export async function waitState(page, state) {
  const done = page.locator(`#case-panel[data-state="${state}"][data-loaded="true"]`);
  const error = page.locator('#action-dialog[open] .dialog-error[data-kind="error"]');
  await done.or(error).first().waitFor({ state: 'attached', ...kWait });
  if (await error.count()) assert.fail(`expected ${state}; the dialog says: ${await error.textContent()}`);
  await page.locator('#action-dialog[open]').waitFor({ state: 'detached', ...kWait });
}
