// The JSON API client of the pages. Every call resolves to the parsed body or throws an ApiError
// whose `message` is meant for people (the server's message, or a description of what failed).
//
// An endpoint the server does not have yet answers 404 with the error code "not_found" (the
// router's "no such route"; missing resources have codes of their own, e.g. "device_not_found"):
// ApiError.unavailable is true then, and pages say the feature is not available instead of
// showing made-up data.

import { t } from './i18n.js';

export class ApiError extends Error {
  constructor(message, { status = 0, code = '', path = '', body = null } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.path = path;
    this.body = body;  // the parsed error body (e.g. a 409's error.allowed), or null
  }

  get unavailable() {
    return this.status === 404 && this.code === 'not_found';
  }
}

let csrfToken = null;
// The operator session's CSRF token, sent as X-CSRF-Token on every state-changing request.
export function setCsrfToken(token) {
  csrfToken = token || null;
}

// `body`: an object (sent as JSON), a Blob/File (sent raw with its own type) or undefined.
export async function request(method, path, body) {
  const headers = { Accept: 'application/json' };
  let payload;
  if (body instanceof Blob) {
    payload = body;
    headers['Content-Type'] = body.type || 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;

  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  } catch {
    throw new ApiError(t('error.network'), { path });
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (res.ok) return data;

  const error = data && typeof data.error === 'object' ? data.error : null;
  const code = error?.code ?? '';
  const err = new ApiError(error?.message || t('error.server', { status: res.status }), {
    status: res.status,
    code,
    path: path.split('?')[0],
    body: data,
  });
  if (err.unavailable) err.message = t('error.unavailable', { path: err.path });
  throw err;
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body);
export const del = (path) => request('DELETE', path);
