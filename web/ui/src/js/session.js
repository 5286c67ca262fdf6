// The operator login area of the console's top bar, against the session API:
//   GET /api/v1/session -> {user, csrfToken} | 401;  POST {username, password};  DELETE.
// Until the server has the session API (404 not_found) it says so and shows no form. Another
// part of the page that learns the credentials may have ended (the live feed's close 1008)
// dispatches kSessionRecheck on window: the area asks the server again.

import { get, post, del, setCsrfToken, ApiError } from './api.js';
import { h, showMessage } from './dom.js';
import { t, onLanguageChange } from './i18n.js';

export const kSessionRecheck = 'yiwang:session-recheck';

export function mountLoginArea(area, { onSession = () => {} } = {}) {
  let state = { kind: 'checking' };

  function render() {
    area.replaceChildren();
    if (state.kind === 'checking') {
      area.append(h('span', { className: 'muted' }, t('login.checking')));
    } else if (state.kind === 'unavailable' || state.kind === 'error') {
      area.append(h('span', { className: 'muted', id: 'login-unavailable' }, state.message));
    } else if (state.kind === 'user') {
      const u = state.user;
      area.append(
        h('span', { className: 'login-user', title: u.name ?? u.id, dataset: { user: u.name ?? u.id } },
          `${u.displayName || u.name || u.id}`,
          u.role ? h('span', { className: 'muted' }, ` · ${t(`role.${u.role}`)}`) : null),
        h('button', { type: 'button', className: 'link-button', onclick: logout },
          t('login.logout')));
    } else {
      const message = h('span', { className: 'message', hidden: true });
      const form = h('form', { className: 'login-form', onsubmit: (e) => login(e, form, message) },
        h('input', { name: 'username', autocomplete: 'username', required: true,
                     placeholder: t('login.username'), 'aria-label': t('login.username') }),
        h('input', { name: 'password', type: 'password', autocomplete: 'current-password',
                     required: true, placeholder: t('login.password'),
                     'aria-label': t('login.password') }),
        h('button', { type: 'submit' }, t('login.submit')),
        message);
      if (state.message) showMessage(message, state.message, 'error');
      area.append(form);
    }
  }

  function set(next) {
    state = next;
    if (next.kind === 'user') setCsrfToken(next.csrfToken);
    else setCsrfToken(null);
    render();
    onSession(next.kind === 'user' ? next.user : null);
  }

  function fromError(err) {
    if (err instanceof ApiError && err.unavailable) return { kind: 'unavailable', message: t('login.unavailable') };
    if (err instanceof ApiError && err.status === 401) return { kind: 'form' };
    return { kind: 'error', message: err.message };
  }

  async function check() {
    try {
      const s = await get('/api/v1/session');
      set({ kind: 'user', user: s.user, csrfToken: s.csrfToken });
    } catch (err) {
      set(fromError(err));
    }
  }

  async function login(event, form, message) {
    event.preventDefault();
    const data = new FormData(form);
    try {
      const s = await post('/api/v1/session', {
        username: data.get('username'),
        password: data.get('password'),
      });
      set({ kind: 'user', user: s.user, csrfToken: s.csrfToken });
    } catch (err) {
      if (err instanceof ApiError && err.unavailable) return set(fromError(err));
      showMessage(message, `${t('login.failed')}: ${err.message}`, 'error');
    }
  }

  async function logout() {
    try {
      await del('/api/v1/session');
    } catch {
      // Signed out locally either way; the cookie expires on its own.
    }
    set({ kind: 'form' });
  }

  window.addEventListener(kSessionRecheck, async () => {
    if (state.kind !== 'user') return;
    await check();
    if (state.kind === 'form') {  // say why the map emptied
      state.message = t('login.ended');
      render();
    }
  });
  onLanguageChange(() => {
    if (state.kind === 'unavailable') state.message = t('login.unavailable');
    render();
  });
  render();
  return check();
}
