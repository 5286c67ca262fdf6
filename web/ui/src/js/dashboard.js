// The dashboard tab: 结案率, 按期结案率, overdue and open counts, open cases by stage (GET
// /api/v1/stats), rankings by district and department (by=district / by=department), the
// daily trend (by=day, an echarts line chart) and the live events/s and alarms/s of the feed's
// tick messages. Numbers carry their raw value in data-value (what the API said).

import { get } from './api.js';
import { h } from './dom.js';
import { t, currentLanguage } from './i18n.js';
import { kStates } from './console-texts.js';

let echartsModule = null;
async function echarts() {
  echartsModule ??= await import('../lib/echarts/echarts.esm.min.mjs');
  return echartsModule;
}

const kRankingRows = 10;
const kTrendDays = 30;

const pct = (v) => (v === undefined || v === null ? '—' : `${(v * 100).toFixed(1)}%`);
const num = (v) => Number(v ?? 0);

function dayString(ms) {
  // YYYY-MM-DD in UTC+8, as the KPI rows are keyed.
  return new Date(ms + 8 * 3600 * 1000).toISOString().slice(0, 10);
}

export class Dashboard {
  constructor(root, { uiConfig }) {
    this.root = root;
    this.uiConfig = uiConfig;
    this.trend = null;
    this.loaded = null;
    this.rates = { eps: 0, aps: 0 };
  }

  name(kind, key) {
    if (kind === 'district') return this.uiConfig?.districts?.find((d) => d.code === key)?.name ?? key;
    const d = this.uiConfig?.departments?.find((x) => x.id === key);
    if (!d) return key || '—';
    return currentLanguage() === 'en' && d.nameEn ? d.nameEn : d.name;
  }

  // Live rates from a tick message.
  tick(msg) {
    this.rates = { eps: num(msg.eventsPerSecond), aps: num(msg.alarmsPerSecond) };
    for (const [key, id] of [['eps', 'live-eps'], ['aps', 'live-aps']]) {
      const el = this.root.querySelector(`#${id}`);
      if (el) {
        el.textContent = String(this.rates[key]);
        el.dataset.value = String(this.rates[key]);
      }
    }
  }

  async load() {
    this.root.dataset.ready = 'false';
    const from = dayString(Date.now() - (kTrendDays - 1) * 24 * 3600 * 1000);
    let total;
    let byDistrict;
    let byDepartment;
    let byDay;
    try {
      [total, byDistrict, byDepartment, byDay] = await Promise.all([
        get('/api/v1/stats'),
        get('/api/v1/stats?by=district'),
        get('/api/v1/stats?by=department'),
        get(`/api/v1/stats?by=day&from=${from}`),
      ]);
    } catch (err) {
      this.root.replaceChildren(h('p', { className: 'message', dataset: { kind: 'error' } }, err.message));
      this.root.dataset.ready = 'error';
      return;
    }
    this.loaded = { total, byDistrict, byDepartment, byDay };
    await this.render();
    this.root.dataset.ready = 'true';
  }

  async rerender() {
    if (this.loaded) await this.render();
  }

  async render() {
    const { total, byDistrict, byDepartment, byDay } = this.loaded;
    const report = total.total ?? {};
    const open = total.open ?? {};
    const card = (id, label, value, text, kind = '') =>
      h('div', { className: `kpi-card ${kind}` },
        h('div', { className: 'kpi-label' }, label),
        h('div', { className: 'kpi-value', id, dataset: { value: String(value ?? '') } }, text));
    const byState = Object.entries(open.byState ?? {})
      .sort(([a], [b]) => kStates.indexOf(a) - kStates.indexOf(b));
    const maxState = Math.max(1, ...byState.map(([, n]) => n));

    this.trend?.dispose();
    this.trend = null;
    this.root.replaceChildren(
      h('div', { className: 'dash-head' },
        h('button', { type: 'button', className: 'secondary', id: 'dash-refresh',
                      onclick: () => this.load() }, t('dash.refresh'))),
      h('section', { className: 'kpi-cards' },
        card('kpi-close-rate', t('dash.closeRate'), report.closeRate, pct(report.closeRate)),
        card('kpi-on-time-close-rate', t('dash.onTimeCloseRate'), report.onTimeCloseRate,
             pct(report.onTimeCloseRate)),
        card('kpi-overdue', t('dash.overdue'), num(open.overdue), String(num(open.overdue)),
             num(open.overdue) ? 'bad' : ''),
        card('kpi-open', t('dash.open'), num(open.open), String(num(open.open))),
        card('live-eps', `${t('dash.live')} ${t('dash.eps')}`, this.rates.eps, String(this.rates.eps), 'live'),
        card('live-aps', `${t('dash.live')} ${t('dash.aps')}`, this.rates.aps, String(this.rates.aps), 'live')),
      h('section', { className: 'dash-block' },
        h('h3', {}, t('dash.byState')),
        byState.length
          ? h('ul', { className: 'by-state' }, byState.map(([state, n]) =>
            h('li', { dataset: { state, value: String(n) } },
              h('span', { className: 'by-state-name' }, t(`state.${state}`)),
              h('span', { className: 'by-state-bar' },
                h('span', { className: `bar w${Math.round((n / maxState) * 20) * 5}` })),
              h('span', { className: 'by-state-n' }, String(n)))))
          : h('p', { className: 'muted' }, t('dash.none'))),
      h('div', { className: 'dash-rankings' },
        this.ranking('district', t('dash.byDistrict'), byDistrict.rows ?? []),
        this.ranking('department', t('dash.byDepartment'), byDepartment.rows ?? [])),
      h('section', { className: 'dash-block' },
        h('h3', {}, t('dash.trend')),
        h('div', { className: 'trend-chart', id: 'trend-chart' })));
    await this.drawTrend(byDay.rows ?? []);
  }

  // Districts are ranked by 结案率 (closed / accepted), departments by 按期处置率 (handled on
  // time / handled): the KPI rows count acceptance before a case has a department, so a
  // department's own measure is its handling.
  ranking(kind, title, rows) {
    const [rate, first, second] = kind === 'district'
      ? ['closeRate', 'accepted', 'closed'] : ['onTimeHandleRate', 'dispatched', 'handled'];
    const sorted = rows
      .map((r) => ({ key: r.key?.[kind] ?? '', report: r.report ?? {} }))
      .filter((r) => r.key && (num(r.report.counters?.[first]) > 0 || num(r.report.counters?.[second]) > 0))
      .sort((a, b) => (b.report[rate] ?? -1) - (a.report[rate] ?? -1) ||
                      num(b.report.counters?.[first]) - num(a.report.counters?.[first]))
      .slice(0, kRankingRows);
    return h('section', { className: 'dash-block ranking', id: `ranking-${kind}` },
      h('h3', {}, title),
      sorted.length
        ? h('table', {},
          h('thead', {}, h('tr', {}, h('th', {}, '#'), h('th', {}, t('dash.col.name')),
            h('th', {}, t(`dash.col.${first}`)), h('th', {}, t(`dash.col.${second}`)),
            h('th', {}, t(`dash.col.${rate}`)))),
          h('tbody', {}, sorted.map((r, i) => h('tr', { dataset: { key: r.key } },
            h('td', {}, String(i + 1)), h('td', {}, this.name(kind, r.key)),
            h('td', {}, String(num(r.report.counters?.[first]))),
            h('td', {}, String(num(r.report.counters?.[second]))),
            h('td', { dataset: { value: String(r.report[rate] ?? '') } }, pct(r.report[rate]))))))
        : h('p', { className: 'muted' }, t('dash.none')));
  }

  async drawTrend(rows) {
    const box = this.root.querySelector('#trend-chart');
    const days = rows.map((r) => ({ day: r.key?.day ?? '', c: r.report?.counters ?? {} }))
      .filter((r) => r.day).sort((a, b) => a.day.localeCompare(b.day));
    box.dataset.days = String(days.length);
    if (!days.length) {
      box.replaceChildren(h('p', { className: 'muted' }, t('dash.none')));
      box.classList.add('empty');
      return;
    }
    const ec = await echarts();
    if (!box.isConnected) return;
    this.trend = ec.init(box, null, { renderer: 'svg' });
    this.trend.setOption({
      animation: false,
      grid: { left: 40, right: 16, top: 30, bottom: 28 },
      legend: { top: 0 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'category', data: days.map((d) => d.day) },
      yAxis: { type: 'value', minInterval: 1 },
      series: [
        { name: t('dash.trend.filed'), type: 'line', data: days.map((d) => num(d.c.accepted)) },
        { name: t('dash.trend.closed'), type: 'line', data: days.map((d) => num(d.c.closed)) },
      ],
    });
  }

  resize() {
    this.trend?.resize();
  }
}
