// The operator console: full-screen district map, top bar (title, language, login), filters bar
// and the case panel. Sets <body data-ready> once the map has been drawn.

import { get, ApiError } from './api.js';
import { h } from './dom.js';
import { mountLanguageSwitch, onLanguageChange, t, currentLanguage } from './i18n.js';
import { createBaseMap, afterPaint } from './map.js';
import { mountLoginArea } from './session.js';

// The UI config (tile layer, categories), or null while the server has none.
async function loadUiConfig() {
  try {
    return await get('/api/v1/ui-config');
  } catch (err) {
    if (err instanceof ApiError && err.unavailable) return null;
    throw err;
  }
}

function fillDistrictFilter(select, districts, base) {
  for (const f of districts.features) {
    select.append(h('option', { value: f.properties.code },
                    `${f.properties.name}`));
  }
  select.addEventListener('change', () => {
    const code = select.value;
    if (!code) {
      base.map.fitBounds(base.layer.getBounds(), { padding: [8, 8] });
      return;
    }
    base.layer.eachLayer((l) => {
      if (l.feature.properties.code === code) base.map.fitBounds(l.getBounds(), { padding: [24, 24] });
    });
  });
}

function fillCategoryFilter(select, uiConfig) {
  const render = () => {
    select.replaceChildren(h('option', { value: '' }, t('filters.all')));
    for (const c of uiConfig?.categories ?? []) {
      select.append(h('option', { value: c.code },
                      currentLanguage() === 'en' && c.nameEn ? c.nameEn : c.name));
    }
  };
  render();
  onLanguageChange(render);
}

async function main() {
  mountLanguageSwitch(document.getElementById('lang-switch'));
  mountLoginArea(document.getElementById('login-area'));

  const status = document.getElementById('map-status');
  let uiConfig = null;
  try {
    uiConfig = await loadUiConfig();
  } catch (err) {
    console.warn(`ui-config: ${err.message}`);  // the map works without it
  }
  fillCategoryFilter(document.getElementById('filter-category'), uiConfig);
  try {
    const base = await createBaseMap(document.getElementById('map'), { uiConfig });
    status.remove();
    fillDistrictFilter(document.getElementById('filter-district'), base.districts, base);
    await afterPaint(base.map);
    document.body.dataset.ready = 'true';
  } catch (err) {
    delete status.dataset.i18n;
    status.textContent = `${t('map.failed')}: ${err.message}`;
    status.classList.add('error');
    document.body.dataset.ready = 'error';
  }
}

main();
