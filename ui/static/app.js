// Lanner router UI. Vanilla JS, no dependencies.
//
// Security: alerts carry attacker-influenced text (file names, command
// lines). Every piece of data goes into the page through textContent or
// element properties, never as HTML; the CSP forbids inline script anyway.
'use strict';

(() => {
  const PRIOS = ['Emergency', 'Alert', 'Critical', 'Error', 'Warning', 'Notice', 'Informational', 'Debug'];
  const TOKEN_KEY = 'lanner.token';
  const LIST_MAX = 200;       // alert rows kept in the list
  const ALERT_POLL_MS = 2000; // live list refresh
  const OUTPUT_POLL_MS = 4000;
  const $ = (id) => document.getElementById(id);

  const state = {
    latest: 0, filterKey: null, alerts: [], selected: null, listMax: LIST_MAX, more: false,
    deadOutput: null, deadNext: '', deadItems: [], authWanted: false,
  };

  // el builds an element: props sets properties (className, textContent,
  // title, type, ...) and dataset; children are nodes or strings (as text).
  function el(tag, props, ...children) {
    const e = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (k === 'dataset') Object.assign(e.dataset, v);
        else if (k === 'text') e.textContent = v;
        else e[k] = v;
      }
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return e;
  }

  function prioClass(p) {
    const i = PRIOS.indexOf(p);
    return i < 0 ? 'p-debug' : 'p-' + PRIOS[i].toLowerCase();
  }
  function prioBadge(p) { return el('span', { className: 'prio ' + prioClass(p), text: String(p) }); }

  function fmtTime(iso) {
    const d = new Date(iso);
    if (isNaN(d)) return String(iso);
    const pad = (n, w = 2) => String(n).padStart(w, '0');
    const t = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + '.' + pad(d.getMilliseconds(), 3);
    const today = new Date();
    if (d.toDateString() === today.toDateString()) return t;
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + t;
  }
  function fieldText(v) {
    if (v === null) return '<NA>';
    if (typeof v === 'string') return v;
    return JSON.stringify(v);
  }

  // --- API --------------------------------------------------------------

  class AuthError extends Error {}

  async function api(method, path, body) {
    const headers = { 'Accept': 'application/json' };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers['Authorization'] = 'Bearer ' + token;
    const init = { method, headers, cache: 'no-store', credentials: 'same-origin' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(path, init);
    if (resp.status === 401) {
      askToken();
      throw new AuthError('the API wants a bearer token');
    }
    let data = null;
    try { data = await resp.json(); } catch (_) { /* not JSON */ }
    if (!resp.ok) {
      const err = new Error((data && data.error) || ('HTTP ' + resp.status));
      err.status = resp.status;
      err.data = data;
      throw err;
    }
    return data;
  }

  function setStatus(text, isError) {
    const s = $('status');
    s.textContent = text;
    s.classList.toggle('error', !!isError);
  }
  function reportError(what, err) {
    if (err instanceof AuthError) setStatus('token required', true);
    else setStatus(what + ': ' + err.message, true);
  }

  // --- token ------------------------------------------------------------

  function askToken() {
    const d = $('token-dialog');
    if (!d.open) {
      $('token-input').value = '';
      d.showModal();
    }
  }
  function initToken() {
    $('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const v = $('token-input').value.trim();
      if (!v) return;
      sessionStorage.setItem(TOKEN_KEY, v);
      $('token-dialog').close();
      refreshAll();
    });
    $('token-forget').addEventListener('click', () => {
      sessionStorage.removeItem(TOKEN_KEY);
      $('token-input').value = '';
    });
    $('token-button').addEventListener('click', askToken);
  }

  // --- outputs ----------------------------------------------------------

  async function refreshOutputs() {
    let data;
    try {
      data = await api('GET', '/api/v1/outputs');
    } catch (err) {
      reportError('outputs', err);
      return;
    }
    const outs = data.outputs || [];
    const body = el('tbody');
    for (const o of outs) {
      const deadBtn = el('button', { type: 'button', className: 'link', text: String(o.dead_letters),
        title: 'Show the dead letters of ' + o.name });
      deadBtn.addEventListener('click', () => openDead(o.name));
      body.append(el('tr', { dataset: { output: o.name } },
        el('td', { text: o.name }),
        el('td', { text: o.type || '(not configured)' }),
        el('td', { text: o.state, className: o.state === 'running' ? '' : 'warn' }),
        el('td', { className: 'num', text: String(o.queue_depth) }),
        el('td', { className: 'num', text: String(o.delivered) }),
        el('td', { className: 'num' + (o.failed > 0 ? ' warn' : ''), text: String(o.failed) }),
        el('td', { className: 'num', text: String(o.retries) }),
        el('td', { className: 'num' + (o.dead_letters > 0 ? ' warn' : '') }, deadBtn),
        el('td', { className: 'err', text: o.last_error || '' }),
      ));
    }
    $('outputs').tBodies[0].replaceWith(body);
    $('outputs-empty').hidden = outs.length > 0;
    // Keep the output filter's choices in step with the outputs.
    const sel = $('f-output');
    const cur = sel.value;
    const names = outs.map((o) => o.name);
    const have = Array.from(sel.options).slice(1).map((o) => o.value);
    if (names.join('\n') !== have.join('\n')) {
      sel.replaceChildren(el('option', { value: '', text: 'any' }), ...names.map((n) => el('option', { value: n, text: n })));
      sel.value = names.includes(cur) ? cur : '';
    }
  }

  // --- recent alerts ----------------------------------------------------

  function filterParams() {
    const p = new URLSearchParams();
    const add = (k, v) => { if (v) p.set(k, v); };
    add('min_priority', $('f-priority').value);
    add('rule', $('f-rule').value.trim());
    add('source', $('f-source').value.trim());
    add('output', $('f-output').value);
    add('q', $('f-q').value.trim());
    return p;
  }

  let alertsBusy = false;
  let alertsAgain = false; // a refresh was asked for while one ran
  async function refreshAlerts() {
    if (alertsBusy) { alertsAgain = true; return; }
    alertsBusy = true;
    alertsAgain = false;
    try {
      const p = filterParams();
      const key = p.toString();
      const incremental = key === state.filterKey && state.latest > 0;
      if (incremental) p.set('after', String(state.latest));
      p.set('limit', String(LIST_MAX));
      const data = await api('GET', '/api/v1/alerts/recent?' + p.toString());
      if (incremental && data.latest < state.latest) {
        // The router restarted (seq starts again at 1): load afresh.
        state.filterKey = null;
        state.latest = 0;
        alertsAgain = true;
        return;
      }
      if (incremental) {
        state.alerts = data.alerts.concat(state.alerts).slice(0, state.listMax);
      } else {
        state.alerts = data.alerts;
        state.filterKey = key;
        state.listMax = LIST_MAX;
        state.more = data.matched > data.alerts.length;
      }
      state.latest = data.latest;
      renderCounts(data);
      if (!incremental || data.alerts.length > 0) renderAlerts();
      $('alerts-summary').textContent = '(' + state.alerts.length + ' shown, newest first; the router keeps the last ' +
        data.capacity + ' and has accepted ' + data.total + ' since start)';
      setStatus(($('f-live').checked ? 'live' : 'paused') + ' · updated ' + fmtTime(new Date().toISOString()), false);
    } catch (err) {
      if (err.status === 404) {
        $('alerts-empty').textContent = err.message;
        $('alerts-empty').hidden = false;
      }
      reportError('alerts', err);
    } finally {
      alertsBusy = false;
      if (alertsAgain) refreshAlerts();
    }
  }

  function renderCounts(data) {
    const ul = el('ul', { id: 'counts', ariaLabel: 'Alerts accepted since start, by priority' });
    ul.append(el('li', { title: 'accepted since start' }, 'total', el('b', { text: String(data.total) })));
    for (const p of PRIOS) {
      const n = data.counts[p] || 0;
      if (n > 0) ul.append(el('li', { className: prioClass(p), dataset: { priority: p } }, p, el('b', { text: String(n) })));
    }
    $('counts').replaceWith(ul);
  }

  function renderAlerts() {
    const body = el('tbody');
    for (const e of state.alerts) {
      const a = e.alert;
      const tr = el('tr', { tabIndex: 0, className: 'row-' + prioClass(a.priority).slice(2), dataset: { seq: String(e.seq), uuid: a.uuid || '' } },
        el('td', { className: 'time', text: fmtTime(a.time), title: a.time }),
        el('td', {}, prioBadge(a.priority)),
        el('td', { className: 'rule', text: a.rule }),
        el('td', { className: 'host', text: a.hostname || '', title: a.hostname || '' }),
        el('td', { className: 'outs', text: e.outputs.length ? e.outputs.join(', ') : '(none)' }),
        el('td', { className: 'text', text: a.output || '', title: a.output || '' }),
      );
      if (state.selected === e.seq) tr.classList.add('selected');
      const open = () => { state.selected = e.seq; showDetail(a, recentExtras(e)); markSelected(); };
      tr.addEventListener('click', open);
      tr.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') open(); });
      body.append(tr);
    }
    $('alerts').tBodies[0].replaceWith(body);
    $('alerts-empty').textContent = 'No alerts match.';
    $('alerts-empty').hidden = state.alerts.length > 0;
    $('alerts-older').hidden = !state.more;
  }

  // loadOlder pages back through the store: the next LIST_MAX older alerts
  // that match the same filters.
  async function loadOlder() {
    if (state.alerts.length === 0) return;
    const p = filterParams();
    if (p.toString() !== state.filterKey) { refreshAlerts(); return; }
    p.set('before', String(state.alerts[state.alerts.length - 1].seq));
    p.set('limit', String(LIST_MAX));
    try {
      const data = await api('GET', '/api/v1/alerts/recent?' + p.toString());
      if (p.get('before') !== String(state.alerts[state.alerts.length - 1].seq)) return; // the list changed meanwhile
      state.alerts = state.alerts.concat(data.alerts);
      state.listMax = state.alerts.length;
      state.more = data.matched > data.alerts.length;
      renderAlerts();
    } catch (err) {
      reportError('alerts', err);
    }
  }

  function markSelected() {
    for (const tr of $('alerts').tBodies[0].rows) {
      tr.classList.toggle('selected', tr.dataset.seq === String(state.selected));
    }
  }

  function recentExtras(e) {
    return [['received', fmtTime(e.received) + ' (' + e.received + ')'], ['outputs', e.outputs.length ? e.outputs.join(', ') : '(none: routed nowhere)']];
  }

  // showDetail fills the detail panel: every field of the alert, its
  // output_fields and tags, and extras (label, text) pairs.
  function showDetail(a, extras, actions) {
    $('detail-title').replaceChildren(prioBadge(a.priority), ' ', a.rule);
    const dl = el('dl', { id: 'detail-fields' });
    const row = (k, v) => dl.append(el('dt', { text: k }), el('dd', { dataset: { field: k } }, v));
    row('uuid', a.uuid || '');
    row('time', a.time);
    row('priority', a.priority);
    row('rule', a.rule);
    row('source', a.source || '');
    row('hostname', a.hostname || '');
    const tags = el('span', {});
    for (const t of a.tags || []) tags.append(el('span', { className: 'tag', text: t }));
    row('tags', tags);
    for (const [k, v] of extras || []) row(k, v);
    $('detail-fields').replaceWith(dl);
    $('detail-output').textContent = a.output || '';
    const body = el('tbody');
    const fields = a.output_fields || {};
    for (const k of Object.keys(fields).sort()) {
      body.append(el('tr', { dataset: { key: k } }, el('td', { text: k }), el('td', { text: fieldText(fields[k]) })));
    }
    $('detail-output-fields').tBodies[0].replaceWith(body);
    $('detail-extra').replaceChildren(...(actions || []));
    $('detail').hidden = false;
  }

  function closeDetail() {
    $('detail').hidden = true;
    state.selected = null;
    markSelected();
  }

  let filterTimer = 0;
  function initFilters() {
    $('filters').addEventListener('submit', (ev) => ev.preventDefault());
    $('filters').addEventListener('input', (ev) => {
      if (ev.target.id === 'f-live') return;
      clearTimeout(filterTimer);
      filterTimer = setTimeout(refreshAlerts, 250);
    });
    $('f-live').addEventListener('change', () => { if ($('f-live').checked) refreshAlerts(); else setStatus('paused', false); });
    $('detail-close').addEventListener('click', closeDetail);
    $('alerts-older').addEventListener('click', loadOlder);
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && !$('detail').hidden && !document.querySelector('dialog[open]')) closeDetail();
    });
  }

  // --- dead letters -----------------------------------------------------

  function deadPath(name, rest) { return '/api/v1/outputs/' + encodeURIComponent(name) + '/deadletters' + (rest || ''); }

  function openDead(name) {
    state.deadOutput = name;
    state.deadItems = [];
    state.deadNext = '';
    $('dead-output').textContent = name;
    $('dead-message').textContent = '';
    $('dead-section').hidden = false;
    loadDead(false).then(() => $('dead-section').scrollIntoView({ block: 'nearest' }));
  }

  async function loadDead(more) {
    const name = state.deadOutput;
    if (!name) return;
    const p = new URLSearchParams({ limit: '100' });
    if (more && state.deadNext) p.set('after', state.deadNext);
    let data;
    try {
      data = await api('GET', deadPath(name, '?' + p.toString()));
    } catch (err) {
      $('dead-message').textContent = err.message;
      return;
    }
    if (name !== state.deadOutput) return;
    state.deadItems = more ? state.deadItems.concat(data.deadletters) : data.deadletters;
    state.deadNext = data.next || '';
    renderDead();
  }

  function renderDead() {
    const body = el('tbody');
    for (const d of state.deadItems) {
      const inspect = el('button', { type: 'button', className: 'secondary', text: 'Inspect' });
      inspect.addEventListener('click', () => inspectDead(d.id));
      const replay = el('button', { type: 'button', text: 'Replay' });
      replay.addEventListener('click', () => replayDead([d.id]));
      const a = d.alert || {};
      body.append(el('tr', { dataset: { id: d.id } },
        el('td', {}, el('input', { type: 'checkbox', className: 'dead-select', value: d.id, ariaLabel: 'Select ' + d.id })),
        el('td', { text: fmtTime(d.dead_at), title: d.dead_at }),
        el('td', { className: 'num', text: String(d.attempts) }),
        el('td', {}, prioBadge(a.priority || 'Debug'), ' ', a.rule || ''),
        el('td', { className: 'reason', text: d.reason }),
        el('td', {}, inspect, ' ', replay),
      ));
    }
    $('dead').tBodies[0].replaceWith(body);
    $('dead-select-all').checked = false;
    $('dead-empty').hidden = state.deadItems.length > 0;
    $('dead-more').hidden = !state.deadNext;
  }

  function selectedDead() {
    return Array.from(document.querySelectorAll('#dead input.dead-select:checked')).map((c) => c.value);
  }

  async function inspectDead(id) {
    try {
      const d = await api('GET', deadPath(state.deadOutput, '/' + encodeURIComponent(id)));
      const extras = [['dead letter', d.id], ['output', d.output], ['attempts', String(d.attempts)], ['reason', d.reason],
        ['first try', d.first_try], ['last try', d.last_try], ['dead since', d.dead_at]];
      for (const [k, v] of Object.entries(d.overrides || {})) extras.push(['override ' + k, v]);
      const replay = el('button', { type: 'button', text: 'Replay this dead letter' });
      replay.addEventListener('click', () => replayDead([d.id]));
      state.selected = null;
      markSelected();
      showDetail(d.alert || {}, extras, [replay]);
      $('detail').scrollIntoView({ block: 'nearest' });
    } catch (err) {
      $('dead-message').textContent = err.message;
    }
  }

  async function replayDead(ids) {
    const sel = ids ? { ids } : { all: true };
    try {
      const r = await api('POST', deadPath(state.deadOutput, '/replay'), sel);
      $('dead-message').textContent = 'Replayed ' + r.replayed + ' dead letter' + (r.replayed === 1 ? '' : 's') + '.';
    } catch (err) {
      $('dead-message').textContent = 'Replay failed: ' + err.message +
        (err.data && err.data.replayed ? ' (' + err.data.replayed + ' replayed)' : '');
    }
    await loadDead(false);
    refreshOutputs();
  }

  function confirmAction(text) {
    return new Promise((resolve) => {
      const d = $('confirm-dialog');
      $('confirm-text').textContent = text;
      const ac = new AbortController();
      const finish = (ok) => { ac.abort(); if (d.open) d.close(); resolve(ok); };
      $('confirm-ok').addEventListener('click', (ev) => { ev.preventDefault(); finish(true); }, { signal: ac.signal });
      $('confirm-cancel').addEventListener('click', (ev) => { ev.preventDefault(); finish(false); }, { signal: ac.signal });
      d.addEventListener('cancel', () => finish(false), { signal: ac.signal });
      d.showModal();
    });
  }

  async function purgeDead(ids) {
    const what = ids ? ids.length + ' selected dead letter' + (ids.length === 1 ? '' : 's') : 'every dead letter';
    if (!await confirmAction('Purge ' + what + ' of output "' + state.deadOutput + '"? They are deleted for good.')) return;
    try {
      const r = await api('DELETE', deadPath(state.deadOutput), ids ? { ids } : { all: true });
      $('dead-message').textContent = 'Purged ' + r.purged + ' dead letter' + (r.purged === 1 ? '' : 's') + '.';
    } catch (err) {
      $('dead-message').textContent = 'Purge failed: ' + err.message;
    }
    await loadDead(false);
    refreshOutputs();
  }

  function initDead() {
    $('dead-close').addEventListener('click', () => { $('dead-section').hidden = true; state.deadOutput = null; });
    $('dead-more').addEventListener('click', () => loadDead(true));
    $('dead-replay-all').addEventListener('click', () => replayDead(null));
    $('dead-purge-all').addEventListener('click', () => purgeDead(null));
    const needSel = (fn) => () => {
      const ids = selectedDead();
      if (ids.length === 0) { $('dead-message').textContent = 'Select dead letters first.'; return; }
      fn(ids);
    };
    $('dead-replay-selected').addEventListener('click', needSel(replayDead));
    $('dead-purge-selected').addEventListener('click', needSel(purgeDead));
    $('dead-select-all').addEventListener('change', (ev) => {
      for (const c of document.querySelectorAll('#dead input.dead-select')) c.checked = ev.target.checked;
    });
  }

  // --- main -------------------------------------------------------------

  function refreshAll() {
    refreshOutputs();
    state.filterKey = null;
    refreshAlerts();
    if (state.deadOutput) loadDead(false);
  }

  function start() {
    initToken();
    initFilters();
    initDead();
    refreshAll();
    setInterval(() => { if (!document.hidden) refreshOutputs(); }, OUTPUT_POLL_MS);
    setInterval(() => { if (!document.hidden && $('f-live').checked) refreshAlerts(); }, ALERT_POLL_MS);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
