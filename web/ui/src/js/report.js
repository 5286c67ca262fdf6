// Citizen report form: category, description, location (map tap or geolocation), photos,
// contact -> POST /api/v1/photos (each, raw body) then POST /api/v1/reports -> tracking code.
// If a similar open case is nearby (GET /api/v1/reports/nearby) the citizen may support it (附议)
// instead of filing a new one.

import { get, post, ApiError } from './api.js';
import { h, showMessage } from './dom.js';
import { mountLanguageSwitch, onLanguageChange, t, currentLanguage } from './i18n.js';
import { createBaseMap, afterPaint, districtAt } from './map.js';

const kPhotoTypes = ['image/jpeg', 'image/png', 'image/webp'];
const kMaxPhotoBytes = 10 * 1024 * 1024;
// The server has no image codec: photos larger than this on their long side (or over the byte
// limit) are re-encoded here as JPEG before upload. It strips metadata (EXIF GPS...) itself.
const kMaxPhotoSide = 2560;
const kJpegQuality = 0.85;
const kMaxPhotos = 3;
const kPreciseZoom = 13;  // ~20 m per pixel: a tap is precise enough for a report

const $ = (id) => document.getElementById(id);

const state = {
  uiConfig: null,
  point: null,     // the last point chosen, {lat, lon} in WGS-84
  location: null,  // the same when it lies in Chongqing, else null
  photos: [],
  base: null,
  marker: null,
};

function fillCategories(select, categories) {
  const chosen = select.value;
  select.replaceChildren(h('option', { value: '' }, t('report.category.choose')));
  const en = currentLanguage() === 'en';
  const groups = new Map();
  for (const c of categories.filter((c) => c.citizen !== false)) {
    const group = c.group || '';
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push(c);
  }
  for (const [group, items] of groups) {
    const options = items.map((c) =>
      h('option', { value: c.code }, en && c.nameEn ? c.nameEn : c.name));
    if (group) select.append(h('optgroup', { label: group }, options));
    else select.append(...options);
  }
  select.value = chosen;
}

async function loadConfig() {
  const message = $('config-message');
  try {
    state.uiConfig = await get('/api/v1/ui-config');
  } catch (err) {
    showMessage(message, t('report.category.unavailable', { reason: err.message }), 'error');
    $('submit').disabled = true;
    $('category').disabled = true;
    return;
  }
  const categories = state.uiConfig?.categories ?? [];
  if (categories.length === 0) {
    showMessage(message, t('report.category.unavailable', { reason: '' }), 'error');
    $('submit').disabled = true;
    return;
  }
  fillCategories($('category'), categories);
  onLanguageChange(() => fillCategories($('category'), categories));
}

function showLocation() {
  const text = $('location-text');
  if (!state.point) {
    text.textContent = t('report.location.none');
    text.dataset.kind = '';
    return;
  }
  const { lat, lon } = state.point;
  const district = districtAt(state.base.districts, lat, lon);
  if (!district) {
    text.textContent = t('report.location.outside');
    text.dataset.kind = 'error';
    return;
  }
  text.textContent = t('report.location.chosen', {
    district: district.properties.name,
    lat: lat.toFixed(5),
    lon: lon.toFixed(5),
  });
  text.dataset.kind = 'ok';
}

// Sets the report's location (WGS-84) and marks it on the map.
function setLocation(lat, lon, { pan = false } = {}) {
  const inside = districtAt(state.base.districts, lat, lon);
  state.point = { lat, lon };
  state.location = inside ? { lat, lon } : null;
  $('lat').value = inside ? String(lat) : '';
  $('lon').value = inside ? String(lon) : '';
  const shown = state.base.toDisplay(lat, lon);
  if (state.marker) state.marker.remove();
  state.marker = state.base.L.circleMarker(shown, {
    radius: 9, color: '#e8590c', weight: 3, fillColor: '#ffa94d', fillOpacity: 0.9,
    className: 'report-location',
  }).addTo(state.base.map);
  // Zoom in on the first coarse tap, so that the next one can be precise.
  // <div data-moving> while the map animates there (tests wait for it to settle).
  const { map } = state.base;
  const zoom = map.getZoom();
  const target = pan ? Math.max(zoom, 14) : zoom < kPreciseZoom ? Math.min(zoom + 3, kPreciseZoom) : null;
  if (target !== null) {
    const container = map.getContainer();
    container.dataset.moving = 'true';
    map.once('moveend', () => delete container.dataset.moving);
    map.setView(shown, target);
  }
  showLocation();
}

function mountLocate() {
  const button = $('locate');
  button.addEventListener('click', () => {
    const text = $('location-text');
    if (!navigator.geolocation) {
      text.textContent = t('report.location.unsupported');
      text.dataset.kind = 'error';
      return;
    }
    button.disabled = true;
    text.textContent = t('report.location.locating');
    text.dataset.kind = '';
    navigator.geolocation.getCurrentPosition(
      (pos) => {
        button.disabled = false;
        setLocation(pos.coords.latitude, pos.coords.longitude, { pan: true });
      },
      (err) => {
        button.disabled = false;
        text.textContent = t('report.location.denied', { reason: err.message });
        text.dataset.kind = 'error';
      },
      { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });
}

function mountPhotos() {
  const input = $('photos');
  const previews = $('photo-previews');
  input.addEventListener('change', () => {
    const message = $('form-message');
    showMessage(message, '');
    const files = [...input.files];
    const problems = [];
    if (files.length > kMaxPhotos) problems.push(t('report.photo.tooMany'));
    for (const f of files) {
      // Too many bytes is fixed by downscaling before upload (preparePhoto); only an absurd
      // size is refused at once.
      if (!kPhotoTypes.includes(f.type)) problems.push(t('report.photo.badType', { name: f.name }));
      else if (f.size > 8 * kMaxPhotoBytes) problems.push(t('report.photo.tooBig', { name: f.name }));
    }
    for (const img of previews.querySelectorAll('img')) URL.revokeObjectURL(img.src);
    previews.replaceChildren();
    if (problems.length) {
      input.value = '';
      state.photos = [];
      showMessage(message, problems.join('；'), 'error');
      return;
    }
    state.photos = files;
    for (const f of files) previews.append(h('img', { src: URL.createObjectURL(f), alt: f.name }));
  });
}

function validate() {
  if (!$('category').value) return t('report.missing.category');
  if (!$('description').value.trim()) return t('report.missing.description');
  if (!state.location) return t('report.missing.location');
  return null;
}

// Nearby open cases of the same category, or [] when there are none or the server cannot say.
async function nearbyCases() {
  const { lat, lon } = state.location;
  const q = new URLSearchParams({ category: $('category').value, lat, lon });
  try {
    const res = await get(`/api/v1/reports/nearby?${q}`);
    return Array.isArray(res?.cases) ? res.cases : [];
  } catch (err) {
    console.warn(`nearby: ${err.message}`);  // optional: filing a new report still works
    return [];
  }
}

function askAboutNearby(cases) {
  return new Promise((resolve) => {
    const list = $('nearby-list');
    list.replaceChildren();
    for (const c of cases) {
      list.append(h('li', {},
        h('div', {}, c.description || c.category),
        h('div', { className: 'muted' },
          t('report.nearby.distance', { m: Math.round(c.distanceM ?? 0) }),
          c.stateText ? ` · ${c.stateText}` : ''),
        h('button', { type: 'button', onclick: () => resolve(c.id) }, t('report.nearby.support'))));
    }
    $('nearby-new').onclick = () => resolve(null);
    $('report-section').hidden = true;
    $('nearby-section').hidden = false;
  });
}

// The photo to upload: the file itself when it is small enough, else a JPEG re-encoding with
// the long side at most kMaxPhotoSide (canvas.toBlob).
async function preparePhoto(file) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return file;  // the browser cannot decode it: the server judges the bytes
  }
  const { width, height } = bitmap;
  const scale = Math.min(1, kMaxPhotoSide / Math.max(width, height));
  if (scale === 1 && file.size <= kMaxPhotoBytes) {
    bitmap.close();
    return file;
  }
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', kJpegQuality));
  return blob ?? file;
}

async function submitReport(supportCaseId, noLink) {
  const message = $('form-message');
  const photoIds = [];
  for (let i = 0; i < state.photos.length; ++i) {
    showMessage(message, t('report.uploading', { n: i + 1, total: state.photos.length }), 'info');
    const photo = await preparePhoto(state.photos[i]);
    if (photo.size > kMaxPhotoBytes) throw new Error(t('report.photo.tooBig', { name: state.photos[i].name }));
    const res = await post('/api/v1/photos', photo);
    photoIds.push(res.photoId);
  }
  showMessage(message, t('report.submitting'), 'info');
  const body = {
    category: $('category').value,
    description: $('description').value.trim(),
    location: { lat: state.location.lat, lon: state.location.lon },
    photoIds,
    contact: $('contact').value.trim(),
  };
  if (supportCaseId) body.supportCaseId = supportCaseId;
  else if (noLink) body.noLink = true;  // the citizen saw the nearby cases and said "new
  return post('/api/v1/reports', body);
}

function showDone(result) {
  $('report-section').hidden = true;
  $('nearby-section').hidden = true;
  $('done-section').hidden = false;
  $('tracking-code').textContent = result.trackingCode;
  $('track-link').href = `/track/${encodeURIComponent(result.trackingCode)}`;
  $('linked-note').hidden = !result.linked;
}

// The words for a failed submission: ours for the errors a citizen can act on (the server's
// messages are written for developers), else the server's message.
const kErrorWords = new Set(['too_many_requests', 'outside_service_area', 'unsupported_media_type',
                             'bad_image', 'image_too_large', 'photo_too_large']);
function errorText(err) {
  if (!(err instanceof ApiError)) return String(err.message ?? err);
  if (kErrorWords.has(err.code)) return t(`report.error.${err.code}`);
  if (err.status === 413) return t('report.error.photo_too_large');
  return err.message;
}

function mountForm() {
  const form = $('report-form');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const message = $('form-message');
    const problem = validate();
    if (problem) {
      showMessage(message, problem, 'error');
      return;
    }
    $('submit').disabled = true;
    try {
      const nearby = await nearbyCases();
      const supportCaseId = nearby.length ? await askAboutNearby(nearby) : null;
      $('nearby-section').hidden = true;
      $('report-section').hidden = false;
      showDone(await submitReport(supportCaseId, nearby.length > 0));
    } catch (err) {
      $('nearby-section').hidden = true;
      $('report-section').hidden = false;
      showMessage(message, errorText(err), 'error');
    } finally {
      $('submit').disabled = false;
    }
  });
}

async function main() {
  mountLanguageSwitch($('lang-switch'));
  mountPhotos();
  mountForm();
  await loadConfig();
  try {
    state.base = await createBaseMap($('report-map'),
                                     { uiConfig: state.uiConfig, hoverLabels: false });
    state.base.map.on('click', (e) => {
      const [lat, lon] = state.base.fromDisplay(e.latlng.lat, e.latlng.lng);
      setLocation(lat, lon);
    });
    mountLocate();
    onLanguageChange(showLocation);
    await afterPaint(state.base.map);
  } catch (err) {
    showMessage($('form-message'), `${t('map.failed')}: ${err.message}`, 'error');
  }
  document.body.dataset.ready = 'true';
}

main();
