// Tracking page: /track or /track/{code}. Shows the case's status in plain words, the public
// timeline and the after-photos (GET /api/v1/track/{code}); once closed and not yet rated, a
// rating form (POST /api/v1/track/{code}/rating). "Not fixed" from the reporter reopens the
// case on the server; from a supporter (附议) it is recorded as their opinion (ratingReopens).

import { get, post } from './api.js';
import { h, showMessage, formatTime } from './dom.js';
import { currentLanguage, mountLanguageSwitch, onLanguageChange, t } from './i18n.js';

const $ = (id) => document.getElementById(id);
let current = null;  // the last tracking response

// The code in /track/{code}, or ''.
function codeFromUrl() {
  const m = location.pathname.match(/^\/track\/([^/]+)$/);
  if (!m) return '';
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return '';
  }
}

// state is the case's protobuf enum name, e.g. "CASE_STATE_CLOSED".
function isClosed(data) {
  return data.state === 'CASE_STATE_CLOSED';
}

// The server sends Chinese and English words (text / textEn, stateText / stateTextEn).
function words(zh, en) {
  return currentLanguage() === 'en' && en ? en : zh;
}

function renderStars() {
  const stars = $('stars');
  for (const old of stars.querySelectorAll('label')) old.remove();
  for (let n = 1; n <= 5; ++n) {
    stars.append(h('label', {},
      h('input', { type: 'radio', name: 'stars', value: String(n) }),
      t('track.rating.star', { n })));
  }
}

function renderRated(rating) {
  $('rating').hidden = true;
  $('rated').hidden = false;
  $('rated-text').textContent = t('track.rating.done', {
    stars: rating.stars,
    comment: rating.comment ? `：${rating.comment}` : '',
  });
}

function render(data) {
  current = data;
  $('result').hidden = false;
  $('state-text').textContent = words(data.stateText, data.stateTextEn) || data.state || '';
  $('result').dataset.state = data.state ?? '';
  $('fact-code').textContent = data.trackingCode ?? '';
  $('fact-category').textContent = words(data.category, data.categoryEn) ?? '';
  $('fact-created').textContent = data.createdAt ? formatTime(data.createdAt) : '';
  const timeline = $('timeline');
  timeline.replaceChildren();
  const entries = Array.isArray(data.timeline) ? data.timeline : [];
  if (entries.length === 0) timeline.append(h('li', { className: 'muted' }, t('track.timeline.empty')));
  for (const e of entries) {
    timeline.append(h('li', {},
      h('time', { dateTime: e.time ?? '' }, e.time ? formatTime(e.time) : ''),
      h('span', {}, words(e.text, e.textEn) || e.action || '')));
  }
  const photos = Array.isArray(data.afterPhotoIds) ? data.afterPhotoIds : [];
  $('after').hidden = photos.length === 0;
  $('after-photos').replaceChildren(...photos.map((id) =>
    h('img', { src: `/api/v1/photos/${encodeURIComponent(id)}`, alt: t('track.after'),
               loading: 'lazy' })));
  $('rated').hidden = true;
  $('rating').hidden = true;
  if (data.rating) renderRated(data.rating);
  // canRate: closed and not rated yet, or closed again after a "not fixed" rating.
  const canRate = data.canRate ?? (isClosed(data) && !data.rating);
  $('fixed-no').dataset.i18n =
      data.ratingReopens === false ? 'track.rating.fixed.no.opinion' : 'track.rating.fixed.no';
  $('fixed-no').textContent = t($('fixed-no').dataset.i18n);
  if (canRate) {
    $('rating').hidden = false;
    $('rating-form').reset();
  }
}

async function lookUp(code) {
  const message = $('track-message');
  $('result').hidden = true;
  $('rating').hidden = true;
  $('rated').hidden = true;
  if (!code) return;
  showMessage(message, t('track.loading'), 'info');
  try {
    render(await get(`/api/v1/track/${encodeURIComponent(code)}`));
    showMessage(message, '');
  } catch (err) {
    showMessage(message, err.code === 'unknown_tracking_code' ? t('track.unknown') : err.message,
                'error');
  }
}

function mountRating() {
  $('rating-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const message = $('rating-message');
    const data = new FormData(event.target);
    const stars = Number(data.get('stars'));
    const fixed = data.get('fixed');
    if (!stars || !fixed) {
      showMessage(message, t('track.rating.missing'), 'error');
      return;
    }
    const rating = { stars, comment: String(data.get('comment') ?? '').trim(), fixed: fixed === 'yes' };
    try {
      await post(`/api/v1/track/${encodeURIComponent(current.trackingCode)}/rating`, rating);
      showMessage(message, t('track.rating.thanks'), 'ok');
      await lookUp(current.trackingCode);  // the reporter's "not fixed" reopens: the new state
      if (!current?.rating) renderRated(rating);
    } catch (err) {
      showMessage(message, err.message, 'error');
    }
  });
}

function main() {
  mountLanguageSwitch($('lang-switch'));
  renderStars();
  onLanguageChange(() => {
    renderStars();
    if (current) render(current);
  });
  mountRating();
  $('track-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const code = $('code').value.trim();
    if (!code) return;
    history.replaceState(null, '', `/track/${encodeURIComponent(code)}`);
    lookUp(code);
  });
  const code = codeFromUrl();
  $('code').value = code;
  lookUp(code).finally(() => {
    document.body.dataset.ready = 'true';
  });
}

main();
