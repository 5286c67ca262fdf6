// The case panel: one case from GET /api/v1/cases/{id} (case, sla, timeline, allowedActions),
// for a sensor case the device's readings over the last 24 h (GET
// /api/v1/devices/{id}/events) as a chart, the photos among the evidence, the timeline in
// words, and one button per action the server allows this operator now. Each action is
// confirmed in a dialog (note, department picker, photo, extension as the action needs) and
// POSTed to /api/v1/cases/{id}/transitions; the server's refusal is shown in words (409 names
// the actions allowed now).

import { get, post, ApiError } from './api.js';
import { h, showMessage, formatTime } from './dom.js';
import { t, currentLanguage } from './i18n.js';
import { actionOf, actionWord, roleWord, sourceWord, stateOf, stateWord,
         urgencyWord } from './console-texts.js';

const kNoteRequired = new Set(['reject', 'return', 'verify_fail', 'park', 'request_extension',
                               'deny_extension', 'report_handled']);
const kReadingsLimit = 1000;
const kDayMs = 24 * 3600 * 1000;

let echartsModule = null;
async function echarts() {
  echartsModule ??= await import('../lib/echarts/echarts.esm.min.mjs');
  return echartsModule;
}

export class CasePanel {
  // root: the panel element; uiConfig: /api/v1/ui-config (departments, categories, districts).
  constructor(root, { uiConfig, onChanged = () => {} }) {
    this.root = root;
    this.uiConfig = uiConfig;
    this.onChanged = onChanged;
    this.caseId = null;
    this.detail = null;
    this.chart = null;
    this.dialog = document.getElementById('action-dialog');
    this.loadSeq = 0;
  }

  categoryName(code) {
    const c = this.uiConfig?.categories?.find((x) => x.code === code);
    if (!c) return code;
    return currentLanguage() === 'en' && c.nameEn ? c.nameEn : c.name;
  }

  districtName(code) {
    return this.uiConfig?.districts?.find((x) => x.code === code)?.name ?? code;
  }

  departmentName(id) {
    const d = this.uiConfig?.departments?.find((x) => x.id === id);
    if (!d) return id;
    return currentLanguage() === 'en' && d.nameEn ? d.nameEn : d.name;
  }

  close() {
    this.caseId = null;
    this.detail = null;
    this.chart?.dispose();
    this.chart = null;
    this.root.replaceChildren();
    this.root.hidden = true;
    delete this.root.dataset.caseId;
    if (location.hash.startsWith('#case=')) history.replaceState(null, '', location.pathname);
  }

  // Shows case `id` (again: keeps a message shown above it).
  async open(id, message = null) {
    const seq = ++this.loadSeq;
    this.caseId = id;
    this.root.hidden = false;
    this.root.dataset.caseId = id;
    this.root.dataset.loaded = 'false';
    if (!this.detail || this.detail.case.id !== id)
      this.root.replaceChildren(h('p', { className: 'muted' }, t('case.loading')));
    let detail;
    try {
      detail = await get(`/api/v1/cases/${encodeURIComponent(id)}`);
    } catch (err) {
      if (seq !== this.loadSeq) return;
      this.root.replaceChildren(h('p', { className: 'message', dataset: { kind: 'error' } }, err.message),
                                this.closeButton());
      return;
    }
    if (seq !== this.loadSeq) return;
    this.detail = detail;
    this.render(message);
    this.root.dataset.loaded = 'true';
    this.root.dataset.state = stateOf(detail.case.state);
    if (detail.case.deviceId) this.loadReadings(detail.case.deviceId, detail.case.id, seq);
  }

  // Re-renders in the current language.
  rerender() {
    if (this.detail) this.render(null);
    if (this.detail?.case.deviceId) {
      this.loadReadings(this.detail.case.deviceId, this.detail.case.id, this.loadSeq);
    }
  }

  closeButton() {
    return h('button', { type: 'button', className: 'link-button case-close',
                         onclick: () => this.close() }, t('case.close'));
  }

  render(message) {
    const { case: c, sla, timeline = [], allowedActions = [] } = this.detail;
    this.chart?.dispose();
    this.chart = null;
    const level = sla?.paused ? 'paused' : (sla?.level ?? 'none');
    const stage = { accept: c.slaAccept, dispatch: c.slaDispatch, handle: c.slaHandle,
                    close: c.slaClose }[sla?.stage] ?? null;
    const row = (key, ...value) => [h('dt', {}, t(key)), h('dd', {}, ...value)];
    const msg = h('p', { className: 'message case-message', hidden: true, role: 'status' });
    if (message) showMessage(msg, message.text, message.kind);

    const photos = [];
    for (const e of timeline) {
      for (const ref of e.evidence ?? []) {
        if (ref.startsWith('photo:')) photos.push(ref.slice('photo:'.length));
      }
    }

    this.root.replaceChildren(...[
      h('header', { className: 'case-head' },
        h('h2', { className: 'case-title' }, this.categoryName(c.category)),
        this.closeButton()),
      h('p', { className: 'case-id muted' }, c.id),
      msg,
      h('div', { className: 'case-badges' },
        h('span', { className: `badge state-badge state-${stateOf(c.state)}` }, stateWord(c.state)),
        h('span', { className: `badge sla-badge sla-${level}`, dataset: { level } }, t(`sla.${level.replace('-', '_')}`)),
        h('span', { className: `badge urgency-badge` }, urgencyWord(c.urgency))),
      h('dl', { className: 'case-facts' },
        row('case.source', sourceWord(c.source)),
        row('case.district', this.districtName(c.district)),
        row('case.department', c.department ? this.departmentName(c.department) : t('case.department.none')),
        row('case.created', formatTime(c.createdAt)),
        stage?.deadline ? row('case.deadline', formatTime(stage.deadline)) : null,
        c.deviceId ? row('case.device', c.deviceId, ' · ',
                         t(c.telemetryNormal ? 'case.telemetry.normal' : 'case.telemetry.alarm')) : null,
        c.description ? row('case.description', c.description) : null),
      c.deviceId ? h('section', { className: 'case-readings' },
        h('h3', {}, t('case.readings')),
        h('div', { className: 'readings-chart', id: 'readings-chart' })) : null,
      photos.length ? h('section', { className: 'case-photos' },
        h('h3', {}, t('case.photos')),
        h('div', { className: 'photo-strip' }, photos.map((id) =>
          h('a', { href: `/api/v1/photos/${encodeURIComponent(id)}`, target: '_blank', rel: 'noopener' },
            h('img', { src: `/api/v1/photos/${encodeURIComponent(id)}`, alt: id, loading: 'lazy' }))))) : null,
      h('section', { className: 'case-actions' },
        h('h3', {}, t('case.actions')),
        allowedActions.length
          ? h('div', { className: 'action-buttons' }, allowedActions.map((a) =>
            h('button', { type: 'button', dataset: { action: a }, onclick: () => this.confirm(a) },
              actionWord(a))))
          : h('p', { className: 'muted no-actions' }, t('case.actions.none'))),
      h('section', { className: 'case-timeline' },
        h('h3', {}, t('case.timeline')),
        h('ol', { className: 'timeline' }, [...timeline].reverse().map((e) => this.timelineItem(e)))),
    ].filter(Boolean));  // replaceChildren would show a null as the text "null"
  }

  timelineItem(e) {
    const action = actionOf(e.action);
    const extra = [];
    if (action === 'transfer' && e.department) extra.push(` → ${this.departmentName(e.department)}`);
    if (e.extensionSeconds) extra.push(` (+${Math.round(Number(e.extensionSeconds) / 3600)} h)`);
    if (e.escalationLevel) extra.push(` (${t(`sla.${e.escalationLevel === 'SLA_LEVEL_RED' ? 'red' : 'yellow'}`)})`);
    return h('li', { dataset: { action } },
      h('div', { className: 'timeline-head' },
        h('strong', {}, actionWord(e.action), ...extra),
        h('span', { className: 'muted' }, ` ${formatTime(e.time)}`)),
      h('div', { className: 'timeline-actor muted' },
        `${e.actorId || t('role.system')} · ${roleWord(e.actorRole)}`,
        e.fromState && e.toState && e.fromState !== e.toState
          ? ` · ${stateWord(e.fromState)} → ${stateWord(e.toState)}` : ''),
      e.note ? h('div', { className: 'timeline-note' }, e.note) : null);
  }

  // The readings of the case's sensor: `case` lets department and district staff read the
  // device through this case (the server scopes device reads to the cases one may see).
  async loadReadings(deviceId, caseId, seq) {
    const box = this.root.querySelector('#readings-chart');
    if (!box) return;
    let events;
    try {
      const page = await get(`/api/v1/devices/${encodeURIComponent(deviceId)}/events`
        + `?limit=${kReadingsLimit}&case=${encodeURIComponent(caseId)}`);
      events = page.events ?? [];
    } catch (err) {
      if (seq === this.loadSeq) box.replaceChildren(h('p', { className: 'muted' }, err.message));
      return;
    }
    if (seq !== this.loadSeq) return;
    // Last 24 h of the device's own clock: relative to its newest reading (a replayed offline
    // buffer is charted as it happened).
    const rows = events.map((s) => s.event).filter(Boolean)
      .map((e) => ({ at: Date.parse(e.observedAt), e })).filter((r) => !Number.isNaN(r.at));
    const newest = Math.max(...rows.map((r) => r.at), 0);
    const recent = rows.filter((r) => r.at >= Math.min(Date.now(), newest) - kDayMs).reverse();
    const series = [];
    // Every numeric reading of the server's sensor catalogue (ui-config's sensorKinds).
    for (const { kind, metrics } of this.uiConfig?.sensorKinds ?? []) {
      for (const { name, symbol, boolean } of metrics) {
        if (boolean) continue;
        const data = recent.filter((r) => r.e[kind] && r.e[kind][name] !== undefined)
          .map((r) => [r.at, Number(r.e[kind][name])]);
        if (data.length) series.push({ name: `${name} (${symbol})`, type: 'line', showSymbol: false, data });
      }
    }
    box.dataset.points = String(series.reduce((n, s) => n + s.data.length, 0));
    if (!series.length) {
      box.replaceChildren(h('p', { className: 'muted' }, t('case.readings.none')));
      box.classList.add('empty');
      return;
    }
    const ec = await echarts();
    if (seq !== this.loadSeq || !box.isConnected) return;
    this.chart = ec.init(box, null, { renderer: 'svg' });
    this.chart.setOption({
      animation: false,
      grid: { left: 44, right: 12, top: 12, bottom: 64 },
      legend: { bottom: 0, textStyle: { fontSize: 10 }, itemWidth: 14, itemGap: 6 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'time' },
      yAxis: { type: 'value', scale: true },
      series,
    });
    box.dataset.ready = 'true';
  }

  departmentsFor(c) {
    return (this.uiConfig?.departments ?? []).filter((d) =>
      (!d.districts?.length || d.districts.includes(c.district)) &&
      (!d.categories?.length || d.categories.includes('*') || d.categories.includes(c.category)));
  }

  // The confirmation dialog of `action`; sends it on confirm.
  confirm(action) {
    const c = this.detail.case;
    const dialog = this.dialog;
    const error = h('p', { className: 'message dialog-error', hidden: true, role: 'alert' });
    const fields = [];
    let department = null;
    let note = null;
    let photo = null;
    let hours = null;
    if (action === 'transfer') {
      department = h('select', { name: 'department', id: 'dialog-department', required: true },
        h('option', { value: '' }, t('dialog.department.choose')),
        this.departmentsFor(c).map((d) => h('option', { value: d.id },
          currentLanguage() === 'en' && d.nameEn ? d.nameEn : d.name)));
      fields.push(h('label', { className: 'field' }, h('span', {}, t('dialog.department')), department));
    }
    if (action === 'request_extension') {
      hours = h('input', { type: 'number', name: 'hours', min: '1', max: '720', value: '24', required: true });
      fields.push(h('label', { className: 'field' }, h('span', {}, t('dialog.extension')), hours));
    }
    note = h('textarea', { name: 'note', id: 'dialog-note', rows: 3, maxLength: 2000,
                           required: kNoteRequired.has(action) });
    fields.push(h('label', { className: 'field' }, h('span', {}, t('dialog.note')), note));
    if (action === 'report_handled') {
      photo = h('input', { type: 'file', name: 'photo', id: 'dialog-photo',
                           accept: 'image/jpeg,image/png,image/webp' });
      fields.push(h('label', { className: 'field' }, h('span', {}, t('dialog.photo')), photo));
    }
    const confirmButton = h('button', { type: 'submit', id: 'action-confirm' }, t('dialog.confirm'));
    const cancelButton = h('button', { type: 'button', className: 'secondary', id: 'action-cancel',
                                       onclick: () => dialog.close() }, t('dialog.cancel'));
    // Checked here, so that what is missing is said in words (no native validation bubble).
    const form = h('form', { method: 'dialog', className: 'action-form', noValidate: true, dataset: { action } },
      h('h2', {}, t('dialog.title', { action: actionWord(action) })),
      h('p', { className: 'muted' }, `${c.id} · ${stateWord(c.state)}`),
      fields, error,
      h('div', { className: 'dialog-buttons' }, cancelButton, confirmButton));
    // What a field lacks is said until the person changes a field: a "please choose a
    // department" left next to a chosen department reads as a refusal. (The server's errors stay
    // until the next confirmation.)
    let missing = false;
    const lacking = (text) => {
      missing = true;
      showMessage(error, text, 'error');
    };
    for (const type of ['input', 'change']) {
      form.addEventListener(type, () => {
        if (missing) showMessage(error, '');
        missing = false;
      });
    }
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      showMessage(error, '');
      missing = false;
      if (note.required && !note.value.trim()) return lacking(t('dialog.note.required'));
      if (department && !department.value) return lacking(t('dialog.department.required'));
      // The server requires evidence for 处置反馈: a photo of the work.
      if (photo && !photo.files?.length) return lacking(t('dialog.photo.required'));
      confirmButton.disabled = true;
      try {
        const body = { action };
        if (note.value.trim()) body.note = note.value.trim();
        if (department) body.department = department.value;
        if (hours) body.extensionSeconds = Math.round(Number(hours.value) * 3600);
        if (photo?.files?.length) {
          showMessage(error, t('dialog.photo.uploading'), 'info');
          const up = await this.uploadPhoto(photo.files[0]);
          body.evidence = [`photo:${up.photoId}`];
          showMessage(error, '');
        }
        showMessage(error, t('dialog.working'), 'info');
        await post(`/api/v1/cases/${encodeURIComponent(c.id)}/transitions`, body);
        dialog.close();
        this.onChanged(c.id);
        await this.open(c.id, { text: t('dialog.done', { action: actionWord(action) }), kind: 'ok' });
      } catch (err) {
        showMessage(error, this.describe(err, action), 'error');
        confirmButton.disabled = false;
      }
    });
    dialog.replaceChildren(form);
    dialog.showModal();
    (department ?? hours ?? note).focus();
  }

  async uploadPhoto(file) {
    try {
      return await post('/api/v1/photos', file);
    } catch (err) {
      if (err instanceof ApiError && err.unavailable) throw new Error(t('dialog.photo.unavailable'));
      throw err;
    }
  }

  // The error in words; a 409 names the actions allowed now (and the panel shows them).
  describe(err, action) {
    if (!(err instanceof ApiError) || err.status !== 409) return err.message;
    const allowed = err.body?.error?.allowed ?? [];
    if (this.caseId) this.open(this.caseId);  // the case moved on: show it as it is now
    if (!allowed.length) return t('error.conflict.none', { message: err.message, action: actionWord(action) });
    return t('error.conflict', { message: err.message, action: actionWord(action),
                                 allowed: allowed.map((a) => actionWord(a)).join('、') });
  }
}

