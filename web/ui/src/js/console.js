// The operator console: full-screen district map, top bar (title, views, live status,
// language, login), filters bar, and the side panel (the case panel, latest updates). Once
// signed in: the open cases matching the filters on the map (GET /api/v1/cases/points,
// clustered in a worker), kept current by the live feed (/ws/live) without reloads; a case
// marker opens the case panel; the dashboard tab shows the KPIs.
//
// Ready markers for tests and scripts: <body data-ready> once the map is drawn,
// <body data-cases="ready"> once the points of the current filters are drawn (again after
// every refetch), #map[data-points] the number of points indexed, <body data-live> the feed's
// state.

import { get, ApiError } from './api.js';
import { h } from './dom.js';
import { mountLanguageSwitch, onLanguageChange, t, currentLanguage } from './i18n.js';
import { createBaseMap, afterPaint } from './map.js';
import { mountLoginArea, kSessionRecheck } from './session.js';
import { kStates, kOpenStates, kSources, stateOf, urgencyOf, sourceOf, actionOf, stateWord,
         actionWord, kUrgencies } from './console-texts.js';
import { CaseLayer, kFlagSensor, kFlagPaused, kFlagYellow, kFlagRed, kFlagAlarming } from './case-map.js';
import { CasePanel } from './case-panel.js';
import { Dashboard } from './dashboard.js';
import { connectLive } from './live.js';

const kRecentMax = 20;
const kCaseZoom = 17;  // beyond the clusters' maxZoom (16): every case its own marker

// The UI config (tile layer, categories, departments), or null while the server has none.
async function loadUiConfig() {
  try {
    return await get('/api/v1/ui-config');
  } catch (err) {
    if (err instanceof ApiError && err.unavailable) return null;
    throw err;
  }
}

function fillDistrictFilter(select, districts, base, onChange) {
  for (const f of districts.features) {
    select.append(h('option', { value: f.properties.code }, `${f.properties.name}`));
  }
  select.addEventListener('change', () => {
    const code = select.value;
    if (!code) {
      base.map.fitBounds(base.layer.getBounds(), { padding: [8, 8] });
    } else {
      base.layer.eachLayer((l) => {
        if (l.feature.properties.code === code) base.map.fitBounds(l.getBounds(), { padding: [24, 24] });
      });
    }
    onChange();
  });
}

// Fills `select` with options from items() (value, label) again on every language change.
function fillOptions(select, items) {
  const render = () => {
    const value = select.value;
    select.replaceChildren(h('option', { value: '' }, t('filters.all')));
    for (const [v, label] of items()) select.append(h('option', { value: v }, label));
    select.value = value;
  };
  render();
  onLanguageChange(render);
}

// A case summary of the live feed (protobuf JSON) as a point row of /api/v1/cases/points.
function summaryToPoint(s) {
  let flags = 0;
  if (sourceOf(s.source) === 'sensor') {
    flags |= kFlagSensor;
    if (!s.telemetryNormal) flags |= kFlagAlarming;
  }
  if (s.paused) flags |= kFlagPaused;
  if (s.escalated === 'SLA_LEVEL_YELLOW') flags |= kFlagYellow;
  if (s.escalated === 'SLA_LEVEL_RED') flags |= kFlagRed;
  return [s.id, Number(s.lat ?? 0), Number(s.lon ?? 0), kStates.indexOf(stateOf(s.state)),
          Math.max(0, kUrgencies.indexOf(urgencyOf(s.urgency))), Number(s.deadlineMs ?? 0), flags];
}

class Console {
  constructor(base, uiConfig) {
    this.base = base;
    this.uiConfig = uiConfig;
    this.user = null;
    this.layer = null;
    this.feed = null;
    this.pendingFlash = new Set();
    this.loadSeq = 0;
    this.serverOffsetMs = 0;
    this.filters = {
      district: document.getElementById('filter-district'),
      category: document.getElementById('filter-category'),
      state: document.getElementById('filter-state'),
      department: document.getElementById('filter-department'),
      source: document.getElementById('filter-source'),
      overdue: document.getElementById('filter-overdue'),
    };
    this.count = document.getElementById('map-count');
    this.liveStatus = document.getElementById('live-status');
    this.recent = document.getElementById('recent-list');
    this.panel = new CasePanel(document.getElementById('case-panel'), { uiConfig });
    this.dashboard = new Dashboard(document.getElementById('view-dashboard'), { uiConfig });
    this.setupFilters();
    this.setupTabs();
    window.addEventListener('hashchange', () => this.followLink());
    onLanguageChange(() => {
      this.panel.rerender();
      this.dashboard.rerender();
      this.showCount();
    });
  }

  now() {
    return Date.now() + this.serverOffsetMs;
  }

  setupFilters() {
    const f = this.filters;
    fillDistrictFilter(f.district, this.base.districts, this.base, () => this.reload());
    const en = () => currentLanguage() === 'en';
    fillOptions(f.category, () => (this.uiConfig?.categories ?? [])
      .map((c) => [c.code, en() && c.nameEn ? c.nameEn : c.name]));
    fillOptions(f.state, () => [...kOpenStates].map((code) => [kStates[code], stateWord(kStates[code])]));
    fillOptions(f.department, () => (this.uiConfig?.departments ?? [])
      .map((d) => [d.id, en() && d.nameEn ? d.nameEn : d.name]));
    fillOptions(f.source, () => kSources.slice(1).map((s) => [s, t(`source.${s}`)]));
    for (const key of ['category', 'state', 'department', 'source', 'overdue'])
      f[key].addEventListener('change', () => this.reload());
  }

  setupTabs() {
    const tabs = { map: document.getElementById('tab-map'), dashboard: document.getElementById('tab-dashboard') };
    const views = { map: document.getElementById('view-map'), dashboard: document.getElementById('view-dashboard') };
    this.tabs = tabs;
    for (const [name, tab] of Object.entries(tabs)) {
      tab.addEventListener('click', () => this.showView(name));
    }
    this.showView = (name) => {
      for (const [n, tab] of Object.entries(tabs)) tab.setAttribute('aria-pressed', String(n === name));
      for (const [n, view] of Object.entries(views)) view.hidden = n !== name;
      document.querySelector('.filters').hidden = name !== 'map';
      document.body.dataset.view = name;
      if (name === 'map') this.base.map.invalidateSize();
      if (name === 'dashboard') this.dashboard.load();
    };
  }

  query() {
    const f = this.filters;
    const params = new URLSearchParams({ open: 'true' });
    for (const key of ['district', 'category', 'state', 'department', 'source']) {
      if (f[key].value) params.set(key, f[key].value);
    }
    if (f.overdue.checked) params.set('overdue', 'true');
    return params;
  }

  // Does live summary `s` pass the filters (as the server would)?
  matches(s) {
    const f = this.filters;
    const state = stateOf(s.state);
    if (!kOpenStates.has(kStates.indexOf(state))) return false;
    if (f.district.value && s.district !== f.district.value) return false;
    if (f.category.value && s.category !== f.category.value) return false;
    if (f.state.value && state !== f.state.value) return false;
    if (f.department.value && (s.department ?? '') !== f.department.value) return false;
    if (f.source.value && sourceOf(s.source) !== f.source.value) return false;
    if (f.overdue.checked) {
      const deadline = Number(s.deadlineMs ?? 0);
      if (s.paused || !(deadline > 0 && deadline < this.now())) return false;
    }
    return true;
  }

  async signedIn(user) {
    if (this.user) {
      if (this.user.name === user.name) return;
      this.signedOut();
    }
    this.user = user;
    document.body.dataset.role = user.role ?? '';
    for (const el of document.querySelectorAll('.case-filter')) el.disabled = false;
    this.tabs.dashboard.disabled = false;
    document.getElementById('cases-status').textContent = t('cases.hint');
    document.getElementById('cases-status').dataset.i18n = 'cases.hint';
    this.layer = new CaseLayer(this.base, { onSelect: (id) => this.select(id), clock: () => this.now() });
    this.panel.onChanged = () => {};
    await this.reload();
    // The feed only where the case service is (a server without it has no use for one). The
    // first connection resyncs once: cases changed between the snapshot and the feed's start
    // would be missed otherwise.
    if (this.user === user && document.body.dataset.cases === 'ready') {
      let first = true;
      this.feed = connectLive({
        onMessage: (msg) => this.onLive(msg),
        onResync: () => this.reload(),
        onCredentialsEnded: () => window.dispatchEvent(new Event(kSessionRecheck)),
        onState: (state, detail) => {
          this.showLive(state, detail);
          if (state === 'online' && first) {
            first = false;
            this.reload();
          }
        },
      });
    }
    this.followLink();
  }

  signedOut() {
    this.user = null;
    delete document.body.dataset.role;
    this.feed?.close();
    this.feed = null;
    this.layer?.destroy();
    this.layer = null;
    this.panel.close();
    this.recent.replaceChildren();
    if (location.hash) history.replaceState(null, '', location.pathname);
    for (const el of document.querySelectorAll('.case-filter')) el.disabled = true;
    this.tabs.dashboard.disabled = true;
    this.showView('map');
    this.liveStatus.hidden = true;
    this.count.dataset.i18n = 'filters.signin';
    this.count.textContent = t('filters.signin');
    document.getElementById('cases-status').dataset.i18n = 'cases.signin';
    document.getElementById('cases-status').textContent = t('cases.signin');
    delete document.body.dataset.cases;
    delete document.body.dataset.live;
  }

  // Refetches the points of the filters (after a filter change, a reconnect, a resync).
  async reload() {
    if (!this.layer) return;
    const seq = ++this.loadSeq;
    document.body.dataset.cases = 'loading';
    let res;
    try {
      res = await get(`/api/v1/cases/points?${this.query()}`);
    } catch (err) {
      if (seq !== this.loadSeq) return;
      delete this.count.dataset.i18n;
      this.count.textContent = err.message;
      document.body.dataset.cases = 'error';
      return;
    }
    if (seq !== this.loadSeq || !this.layer) return;
    if (res.serverTimeMs) this.serverOffsetMs = Number(res.serverTimeMs) - Date.now();
    this.total = Number(res.total ?? res.points.length);
    this.truncated = Boolean(res.truncated);
    await this.layer.load(res.points);
    if (seq !== this.loadSeq) return;
    this.showCount();
    document.body.dataset.cases = 'ready';
  }

  showCount() {
    if (!this.layer) return;
    delete this.count.dataset.i18n;
    const n = this.layer.size;
    this.count.textContent = this.total > n ? t('map.points.truncated', { n, total: this.total })
                                            : t('map.points', { n });
  }

  showLive(state, detail) {
    this.liveStatus.hidden = false;
    this.liveStatus.dataset.state = state;
    document.body.dataset.live = state;
    if (state === 'offline') this.liveStatus.textContent = t('live.offline', { s: detail.retryInSeconds });
    else if (state === 'connecting') this.liveStatus.textContent = t('live.connecting');
    else this.liveStatus.textContent = t('live.online');
  }

  onLive(msg) {
    if (!this.layer) return;
    if (msg.type === 'case' || msg.type === 'escalation') {
      const s = msg.case;
      if (!s?.id) return;
      const action = actionOf(msg.entry?.action);
      if (this.matches(s)) {
        const known = this.layer.has(s.id);
        this.layer.upsert(summaryToPoint(s));
        if (this.pendingFlash.delete(s.id)) this.layer.highlight(s.id, 'flash');
        else if (!known) this.layer.highlight(s.id, 'fresh');
      } else {
        this.layer.remove(s.id);
      }
      if (!this.truncated) this.total = this.layer.size;
      this.showCount();
      this.addRecent(s, action);
      if (this.panel.caseId === s.id && !document.getElementById('action-dialog').open)
        this.panel.open(s.id);
    } else if (msg.type === 'alarm') {
      const id = msg.caseId;
      if (!id || msg.alarm?.kind !== 'ALARM_SIGNAL_KIND_RAISE') return;
      if (this.layer.has(id)) this.layer.highlight(id, 'flash');
      else this.pendingFlash.add(id);
    } else if (msg.type === 'tick') {
      this.dashboard.tick(msg);
      this.liveStatus.textContent = `${t('live.online')} · ${t('live.rates', {
        eps: Number(msg.eventsPerSecond ?? 0), aps: Number(msg.alarmsPerSecond ?? 0) })}`;
    }
  }

  addRecent(s, action) {
    const item = h('li', { dataset: { caseId: s.id } },
      h('button', { type: 'button', className: 'link-button', onclick: () => this.select(s.id, true) },
        `${actionWord(action)} · ${stateWord(s.state)}`),
      h('span', { className: 'muted' }, ` ${s.id}`));
    this.recent.prepend(item);
    while (this.recent.children.length > kRecentMax) this.recent.lastElementChild.remove();
  }

  // Opens case `id` in the panel; with `fly`, the map flies to it, past the clustering zoom.
  // The address follows (#case=ID), so that a case can be linked to.
  select(id, fly = false) {
    if (fly) {
      const p = this.layer?.points.get(id);
      if (p) this.base.map.flyTo(this.base.toDisplay(p[1], p[2]), kCaseZoom, { duration: 0.5 });
    }
    history.replaceState(null, '', `#case=${encodeURIComponent(id)}`);
    this.panel.open(id);
  }

  // Follows #case=ID (on sign-in and when the address changes).
  followLink() {
    const m = /^#case=(.+)$/.exec(location.hash);
    if (m && this.layer) this.select(decodeURIComponent(m[1]), true);
  }
}

async function main() {
  mountLanguageSwitch(document.getElementById('lang-switch'));
  const status = document.getElementById('map-status');
  let uiConfig = null;
  try {
    uiConfig = await loadUiConfig();
  } catch (err) {
    console.warn(`ui-config: ${err.message}`);  // the map works without it
  }
  let app = null;
  let session = null;  // a sign-in reported before the map was ready
  const onSession = (user) => {
    session = user;
    if (!app) return;
    if (user) app.signedIn(user);
    else if (app.user) app.signedOut();
  };
  const login = mountLoginArea(document.getElementById('login-area'), { onSession });
  try {
    const base = await createBaseMap(document.getElementById('map'), { uiConfig });
    status.remove();
    app = new Console(base, uiConfig);
    await afterPaint(base.map);
    document.body.dataset.ready = 'true';
    await login;
    if (session) await app.signedIn(session);
  } catch (err) {
    delete status.dataset.i18n;
    status.textContent = `${t('map.failed')}: ${err.message}`;
    status.classList.add('error');
    document.body.dataset.ready = 'error';
  }
}

main();
