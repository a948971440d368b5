// The observer's page: one EventSource for pushes, DOM built with textContent only (no innerHTML,
// so nothing from the tree can inject markup), ages recomputed locally every second from the
// snapshot's times, so the page stays live between pushes.

const TOKEN_KEY = 'trellis-observer-token';
const MAX_EVENTS = 500;

const state = {
  snapshot: undefined,
  // Server time minus local time when the snapshot arrived: ages use the observer's clock.
  offset: 0,
  lastSeq: 0,
  observerStartedAt: undefined,
  token: '',
  pids: new Map(),
  // The worker whose log tail is shown ({ pool, worker }), or all workers.
  logFilter: undefined,
  logSeq: 0,
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, String(v));
    else if (k === 'title') e.title = String(v);
    else if (k === 'onclick') e.addEventListener('click', v);
    else if (k === 'disabled') e.disabled = true;
    else e.setAttribute(k, String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null) continue;
    e.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
  return e;
}

function now() {
  return Date.now() + state.offset;
}

function duration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

// ---- token -------------------------------------------------------------------------------------

function setToken(t) {
  state.token = t || '';
  try {
    if (state.token) sessionStorage.setItem(TOKEN_KEY, state.token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage may be disabled: the token then lives only in this page
  }
  state.logSeq = 0;
  const logs = $('logs');
  if (logs) logs.replaceChildren();
  const s = $('token-state');
  s.textContent = state.token ? 'set' : 'not set: kill and restart are refused';
  s.classList.toggle('set', Boolean(state.token));
}

function initToken() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  let t = m ? decodeURIComponent(m[1]) : '';
  if (m) history.replaceState(null, '', location.pathname + location.search);
  if (!t) {
    try {
      t = sessionStorage.getItem(TOKEN_KEY) || '';
    } catch {
      t = '';
    }
  }
  setToken(t);
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    setToken($('token').value.trim());
    $('token').value = '';
  });
}

// ---- control -------------------------------------------------------------------------------------

function toast(text, isError) {
  const t = el('div', { class: isError ? 'toast err' : 'toast' }, text);
  $('toasts').append(t);
  setTimeout(() => t.remove(), isError ? 6000 : 3500);
}

async function control(path, body) {
  let res;
  try {
    res = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-trellis-token': state.token },
      body: JSON.stringify(body),
    });
  } catch (e) {
    toast(`request failed: ${e.message}`, true);
    return;
  }
  const answer = await res.json().catch(() => ({}));
  if (res.ok) {
    toast(
      path.endsWith('kill')
        ? `killed ${answer.id ?? ''} ${answer.killed}`
        : `restarted ${answer.restarted} as ${answer.pid}`,
    );
  } else {
    const err = answer.error || {};
    toast(`${res.status} ${err.code || ''}: ${err.message || 'refused'}`, true);
  }
}

/** getStatus of one process (behind the token): its state as its formatStatus shows it. */
async function showStatus(pid) {
  let res;
  try {
    res = await fetch('/api/status', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-trellis-token': state.token },
      body: JSON.stringify({ pid }),
    });
  } catch (e) {
    toast(`request failed: ${e.message}`, true);
    return;
  }
  const answer = await res.json().catch(() => ({}));
  if (!res.ok) {
    const err = answer.error || {};
    toast(`${res.status} ${err.code || ''}: ${err.message || 'refused'}`, true);
    return;
  }
  const st = answer.status || {};
  const name = st.stateName === undefined ? '' : ` in state ${JSON.stringify(st.stateName)}`;
  toast(
    `${st.behaviour} ${pid}${name} (${st.status}, ${st.messageQueueLength} queued): ${JSON.stringify(st.state)}`,
  );
}

// ---- tree ----------------------------------------------------------------------------------------

function healthBadge(h) {
  if (!h) return el('span', { class: 'dim' }, '–');
  const s = String(h.state);
  return el(
    'span',
    {
      class: `badge h-${s}`,
      'data-health': s,
      title: h.lastExitReason ? `last exit: ${h.lastExitReason}` : undefined,
    },
    s,
  );
}

function treeRows(node, depth, out) {
  const isRoot = node.supervisor === null;
  const h = node.health ? String(node.health.state) : '';
  const classes = [];
  if (h === 'stale') classes.push('row-stale');
  if (h === 'failed') classes.push('row-failed');
  if (node.status === 'restarting') classes.push('row-restarting');
  const oldPid = state.pids.get(node.key);
  if (oldPid !== undefined && node.pid !== null && oldPid !== node.pid) classes.push('flash');
  const controls = el('span', {});
  if (!isRoot && !node.observer && node.pid) {
    controls.append(
      el(
        'button',
        {
          class: 'danger',
          'data-action': 'kill',
          title: "exit(pid, 'kill'): the supervisor restarts it as its restart type says",
          onclick: () => control('/api/kill', { pid: node.pid }),
        },
        'kill',
      ),
    );
  }
  if (node.pid && node.type !== 'supervisor') {
    controls.append(
      ' ',
      el(
        'button',
        {
          'data-action': 'status',
          title: 'getStatus: its state as its formatStatus shows it (needs the token)',
          onclick: () => showStatus(node.pid),
        },
        'state',
      ),
    );
  }
  if (!isRoot && !node.observer && node.id !== null && node.restart !== 'temporary') {
    controls.append(
      ' ',
      el(
        'button',
        {
          'data-action': 'restart',
          title: 'terminateChild + restartChild (an orderly stop, then a start)',
          onclick: () => control('/api/restart', { supervisor: node.supervisor, id: node.id }),
        },
        'restart',
      ),
    );
  }
  if (node.observer) controls.append(el('span', { class: 'dim' }, 'this page'));
  const label = node.label ?? node.id ?? (isRoot ? 'root' : '(dynamic)');
  out.push(
    el(
      'tr',
      {
        class: classes.join(' ') || undefined,
        'data-key': node.key,
        'data-pid': node.pid ?? '',
        'data-id': node.id ?? '',
        'data-status': node.status,
        'data-health': h || undefined,
      },
      el(
        'td',
        {},
        el(
          'span',
          { class: 'name' },
          el('span', { class: 'indent' }, '\u00a0\u00a0'.repeat(depth) + (depth > 0 ? '└ ' : '')),
          el('strong', {}, label),
          node.strategy ? el('span', { class: 'kind' }, node.strategy) : null,
          node.osPid ? el('span', { class: 'osp' }, `os pid ${node.osPid}`) : null,
          node.error ? el('span', { class: 'error', title: node.error }, '⚠') : null,
        ),
      ),
      el('td', { class: 'pid' }, node.pid ?? '–'),
      el('td', {}, node.type),
      el('td', { class: 'state' }, el('span', { class: `badge st-${node.status}` }, node.status)),
      el('td', { class: 'restarts' }, node.supervisor === null ? '' : String(node.restarts)),
      el('td', {
        class: 'uptime',
        'data-started': node.status === 'stopped' ? '' : (node.startedAt ?? ''),
        'data-exact': node.startedAtExact ? '1' : '0',
      }),
      el('td', { class: 'beat', 'data-beat': node.health?.lastHeartbeatAt ?? '' }),
      el('td', { class: 'health' }, healthBadge(node.health)),
      el('td', {}, controls),
    ),
  );
  for (const c of node.children || []) treeRows(c, depth + 1, out);
  if (node.hiddenChildren)
    out.push(el('tr', {}, el('td', { colspan: 9, class: 'dim' }, `… ${node.hiddenChildren} more children`)));
}

// What each row was built from: a row whose content did not change is kept as it is, so a button
// under the pointer is not replaced by an identical one while the page updates several times a second.
const rowSig = new WeakMap();

function reuseRows(body, rows) {
  const old = new Map();
  for (const r of body.children) if (r.dataset.key) old.set(r.dataset.key, r);
  return rows.map((r) => {
    const sig = r.outerHTML;
    const prev = r.dataset.key ? old.get(r.dataset.key) : undefined;
    if (prev && rowSig.get(prev) === sig && !r.classList.contains('flash')) return prev;
    rowSig.set(r, sig);
    return r;
  });
}

function renderTree(s) {
  const body = $('tree').querySelector('tbody');
  const note = $('tree-note');
  if (s.tree === null) {
    body.replaceChildren();
    note.hidden = false;
    note.textContent =
      'This observer watches no tree: start one inside your application (observerChild) to see it here.';
    return;
  }
  note.hidden = true;
  const rows = [];
  treeRows(s.tree, 0, rows);
  body.replaceChildren(...reuseRows(body, rows));
  const pids = new Map();
  (function walk(n) {
    if (n.pid) pids.set(n.key, n.pid);
    for (const c of n.children || []) walk(c);
  })(s.tree);
  state.pids = pids;
}

// ---- other sections ------------------------------------------------------------------------------

function showError(id, err) {
  const e = $(id);
  e.hidden = !err;
  e.textContent = err || '';
}

function renderRegistry(s) {
  const sec = $('registry-section');
  sec.hidden = !s.registry;
  if (!s.registry) return;
  const rows = s.registry.items.map((p) =>
    el(
      'tr',
      { 'data-pid': p.pid ?? '' },
      el(
        'td',
        {},
        el('span', { class: `badge ${p.status === 'alive' ? 'st-running' : 'st-stopped'}` }, p.status),
      ),
      el('td', {}, p.pid ?? '–'),
      el('td', {}, `${p.role}/${p.name}`),
      el('td', { class: 'cmd' }, p.command),
    ),
  );
  if (rows.length === 0)
    rows.push(el('tr', {}, el('td', { colspan: 4, class: 'dim' }, 'no processes recorded')));
  $('registry')
    .querySelector('tbody')
    .replaceChildren(...rows);
  showError('registry-error', s.registry.error);
}

const charts = new Map();

function fmtMs(v) {
  if (v === null || v === undefined) return '–';
  return v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v)} ms`;
}

function fmtMb(b) {
  return b === null || b === undefined ? '–' : `${(b / 1048576).toFixed(1)} MB`;
}

function kv(k, v) {
  return el('span', { class: 'kv' }, el('span', { class: 'k' }, k), el('span', { class: 'v' }, String(v)));
}

function workerTable(pool, t) {
  const head = el(
    'tr',
    {},
    ...[
      'worker',
      'pid',
      'state',
      'uptime',
      'in-flight',
      'calls',
      'errors',
      'p50',
      'p99',
      'RSS',
      'CPU',
      'restarts',
      'heartbeat',
      'last exit',
    ].map((h, i) => el('th', { class: i >= 4 && i <= 11 ? 'num' : undefined }, h)),
  );
  const rows = t.workers.map((w) =>
    el(
      'tr',
      {
        'data-worker': w.slot,
        'data-os-pid': w.pid,
        class: state.logFilter?.pool === pool && state.logFilter?.worker === w.slot ? 'selected' : undefined,
        title: 'show this worker\u2019s log tail',
        onclick: () => selectWorker(pool, w.slot),
      },
      el('td', {}, String(w.slot)),
      el('td', {}, String(w.pid)),
      el(
        'td',
        {},
        el('span', { class: `badge ${w.state === 'ready' ? 'st-running' : 'st-restarting'}` }, w.state),
      ),
      el('td', { class: 'uptime', 'data-started': w.startedAt ?? '', 'data-exact': '1' }),
      el('td', { class: 'num' }, String(w.inFlight)),
      el('td', { class: 'num' }, String(w.calls)),
      el('td', { class: 'num' }, String(w.errors)),
      el('td', { class: 'num' }, fmtMs(w.p50)),
      el('td', { class: 'num' }, fmtMs(w.p99)),
      el('td', { class: 'num' }, fmtMb(w.rssBytes)),
      el(
        'td',
        { class: 'num' },
        w.cpuPercent === null
          ? '–'
          : `${w.cpuPercent < 10 ? w.cpuPercent.toFixed(1) : Math.round(w.cpuPercent)}%`,
      ),
      el('td', { class: 'num' }, String(w.restarts)),
      el('td', { class: 'beat', 'data-beat': w.lastHeartbeatAt ?? '' }),
      el('td', { class: 'exit' }, w.lastExit ?? '–'),
    ),
  );
  return el('table', { class: 'grid workers' }, el('thead', {}, head), el('tbody', {}, ...rows));
}

const CHARTS = [
  {
    key: 'throughput',
    title: 'throughput (calls/s)',
    series: [{ label: 'calls/s', field: 'throughput', stroke: '#58a6ff' }],
  },
  {
    key: 'latency',
    title: 'latency (ms)',
    series: [
      { label: 'p50', field: 'p50', stroke: '#3fb950' },
      { label: 'p99', field: 'p99', stroke: '#d29922' },
    ],
  },
  {
    key: 'rss',
    title: 'RSS of the workers (MB)',
    series: [{ label: 'MB', field: 'rssMb', stroke: '#bc8cff' }],
  },
];

function chartData(series, def) {
  return [series.map((p) => p.t / 1000), ...def.series.map((d) => series.map((p) => p[d.field]))];
}

/** Live charts with uPlot (vendored, served by the observer): created once per pool, then fed. */
function drawCharts(pool, box, series) {
  if (typeof uPlot === 'undefined') return;
  for (const def of CHARTS) {
    const id = `${pool}/${def.key}`;
    let c = charts.get(id);
    const holder = box.querySelector(`[data-chart="${def.key}"]`);
    const width = Math.max(240, holder.clientWidth - 4);
    if (!c || !holder.contains(c.root)) {
      c?.destroy();
      c = new uPlot(
        {
          width,
          height: 130,
          legend: { show: true },
          cursor: { show: false },
          scales: { x: { time: true } },
          axes: [
            { stroke: '#8a96a3', grid: { stroke: '#26303b' }, ticks: { stroke: '#26303b' } },
            // Wide enough for values such as 1,234.5 (uPlot clips what does not fit).
            { stroke: '#8a96a3', grid: { stroke: '#26303b' }, ticks: { stroke: '#26303b' }, size: 64 },
          ],
          series: [
            {},
            ...def.series.map((d) => ({
              label: d.label,
              stroke: d.stroke,
              width: 1.5,
              points: { show: false },
            })),
          ],
        },
        chartData(series, def),
        holder,
      );
      charts.set(id, c);
    } else {
      if (Math.abs(c.width - width) > 8) c.setSize({ width, height: 130 });
      c.setData(chartData(series, def));
    }
    holder.dataset.points = String(series.length);
  }
}

function toolPoolCard(p) {
  const t = p.tool;
  const summary = el(
    'div',
    { class: 'pool-summary' },
    el('span', { class: `badge ${t.status === 'running' ? 'st-running' : 'st-stopped'}` }, t.status),
    kv('ready', `${t.ready}/${t.size}`),
    kv('in flight', t.inFlight),
    kv('queue', t.queueDepth),
    kv('calls', t.calls),
    kv('failed', t.failed),
    kv('p50', fmtMs(t.p50)),
    kv('p99', fmtMs(t.p99)),
    kv('restarts', t.restarts),
    kv('recycles', t.recycles),
    t.crashes ? kv('crashes', t.crashes) : null,
    t.circuit !== 'off' ? kv('circuit', t.circuit) : null,
    t.quarantined.length ? kv('quarantined', t.quarantined.join(', ')) : null,
    t.errorsByCode.length ? kv('errors', t.errorsByCode.map((e) => `${e.code} ${e.count}`).join(', ')) : null,
  );
  const chartBox = el(
    'div',
    { class: 'charts' },
    ...CHARTS.map((c) => el('div', { class: 'chart', 'data-chart': c.key }, el('h4', {}, c.title))),
  );
  return {
    node: el(
      'div',
      { class: 'pool', 'data-pool': p.name },
      el('h3', {}, p.name),
      summary,
      workerTable(p.name, t),
      chartBox,
    ),
    chartBox,
  };
}

function renderPools(s) {
  $('pools-section').hidden = !s.pools;
  if (!s.pools) return;
  const container = $('pools');
  // Charts keep their canvas between snapshots: only the other parts of a card are rebuilt.
  const cards = [];
  for (const p of s.pools) {
    if (p.tool) {
      let box = container.querySelector(`.pool[data-pool="${CSS.escape(p.name)}"] .charts`);
      const card = toolPoolCard(p);
      if (box) card.node.replaceChild(box, card.chartBox);
      else box = card.chartBox;
      cards.push({ p, node: card.node, box });
    } else {
      const content = p.values
        ? el(
            'dl',
            {},
            ...p.values.map((v) =>
              el('div', {}, el('dt', {}, v.label), el('dd', {}, v.value === null ? '–' : String(v.value))),
            ),
          )
        : el('div', { class: 'error' }, p.error);
      cards.push({
        p,
        node: el('div', { class: 'pool', 'data-pool': p.name }, el('h3', {}, p.name), content),
      });
    }
  }
  container.replaceChildren(...cards.map((c) => c.node));
  for (const c of cards) if (c.p.tool) drawCharts(c.p.name, c.box, c.p.tool.series);
  $('logs-section').hidden = !s.pools.some((p) => p.tool);
}

// ---- worker logs -----------------------------------------------------------------------------------

function selectWorker(pool, worker) {
  const same = state.logFilter && state.logFilter.pool === pool && state.logFilter.worker === worker;
  state.logFilter = same ? undefined : { pool, worker };
  state.logSeq = 0;
  $('logs').replaceChildren();
  if (state.snapshot) renderPools(state.snapshot);
  pollLogs();
}

function logLine(r) {
  const who = `${r.pool}${r.worker !== null ? `/${r.worker}` : ''}${r.workerPid !== null ? ` ${r.workerPid}` : ''}`;
  return el(
    'li',
    { 'data-seq': r.seq, 'data-worker': r.worker ?? '', class: `src-${r.source}` },
    el('time', {}, new Date(r.at).toISOString().slice(11, 23)),
    el('span', { class: `lvl lvl-${r.level}` }, r.level),
    el('span', { class: 'who' }, who),
    r.callId ? el('span', { class: 'who' }, `[${r.tool ?? ''} ${r.callId}]`) : null,
    r.msg,
    r.traceback ? `\n${r.traceback}` : null,
  );
}

let polling = false;
async function pollLogs() {
  const note = $('logs-note');
  const f = state.logFilter;
  $('logs-filter').textContent = f
    ? `(${f.pool} worker ${f.worker}; click the row again for all)`
    : '(all workers; click a worker row for one)';
  if (!state.token) {
    note.hidden = false;
    note.textContent =
      'Enter the control token to see the workers\u2019 logs (they may carry what tools print).';
    return;
  }
  if (polling) return;
  polling = true;
  try {
    const q = new URLSearchParams({ since: String(state.logSeq || 0), limit: '300' });
    if (f) {
      q.set('pool', f.pool);
      q.set('worker', String(f.worker));
    }
    const res = await fetch(`/api/logs?${q}`, { headers: { 'x-trellis-token': state.token } });
    if (!res.ok) {
      note.hidden = false;
      note.textContent =
        res.status === 403
          ? 'The token was refused: logs need the control token.'
          : `logs: HTTP ${res.status}`;
      return;
    }
    const body = await res.json();
    if (state.logFilter !== f) return;
    note.hidden = true;
    const ol = $('logs');
    const atBottom = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 30;
    for (const r of body.records) ol.append(logLine(r));
    while (ol.childElementCount > 500) ol.firstElementChild.remove();
    state.logSeq = body.lastSeq;
    if (atBottom) ol.scrollTop = ol.scrollHeight;
  } catch {
    // the observer is restarting: the next poll tries again
  } finally {
    polling = false;
  }
}

function renderLeases(s) {
  $('leases-section').hidden = !s.leases;
  if (!s.leases) return;
  const rows = s.leases.items.map((l) =>
    el(
      'tr',
      { 'data-lease': l.name },
      el('td', {}, l.name),
      el('td', {}, l.holder ?? '(none)'),
      el('td', {}, String(l.epoch)),
      el('td', {
        class: 'expires',
        'data-expires': l.expiresAt ?? '',
        'data-expired': l.expired ? '1' : '0',
      }),
    ),
  );
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: 4, class: 'dim' }, 'no leases')));
  $('leases')
    .querySelector('tbody')
    .replaceChildren(...rows);
  showError('leases-error', s.leases.error);
}

// The cluster's nodes from their status records: one row each, a node that left stays as down.
function renderCluster(s) {
  const c = s.cluster;
  $('cluster-section').hidden = !c;
  if (!c) return;
  const count = (st) => c.items.filter((n) => n.state === st).length;
  $('cluster-summary').textContent = c.items.length
    ? `${c.items.length} node${c.items.length === 1 ? '' : 's'}: ${count('up')} up, ${count('unreachable')} unreachable, ${count('down')} down`
    : '';
  const rows = c.items.map((n) =>
    el(
      'tr',
      { 'data-node': n.node, 'data-state': n.state, class: n.state === 'up' ? undefined : `row-${n.state}` },
      el('td', {}, el('strong', {}, n.node)),
      el(
        'td',
        { title: n.address ? `gRPC ${n.address}` : undefined },
        n.pid ? `${n.host} (pid ${n.pid})` : n.host || '–',
      ),
      el('td', {}, String(n.incarnation)),
      el('td', {}, el('span', { class: `badge cl-${n.state}`, 'data-cluster-state': n.state }, n.state)),
      el(
        'td',
        { class: 'runs', title: n.runs.join('\n') || undefined },
        n.runs.length === 0 ? '–' : n.runs.length === 1 ? n.runs[0] : `${n.runs.length} runs`,
      ),
      el('td', { class: 'py-workers' }, String(n.pythonWorkers)),
      el(
        'td',
        { class: 'cluster-pools' },
        ...(n.pools.length === 0
          ? ['–']
          : n.pools.map((p) =>
              el(
                'span',
                {
                  class: 'pool-chip',
                  'data-pool-name': p.name,
                  title: `in flight ${p.inFlight ?? 0}, queued ${p.queued ?? 0}`,
                },
                `${p.name} ${p.ready}/${p.size}`,
              ),
            )),
      ),
      el(
        'td',
        n.state === 'down'
          ? { class: 'down-since', 'data-down': n.downSince ?? '' }
          : { class: 'beat', 'data-beat': n.updatedAt ?? '' },
      ),
    ),
  );
  if (rows.length === 0) rows.push(el('tr', {}, el('td', { colspan: 8, class: 'dim' }, 'no nodes')));
  $('cluster')
    .querySelector('tbody')
    .replaceChildren(...rows);
  showError('cluster-error', c.error);
}

function renderHealth(s) {
  const show = s.health && (s.health.items.length > 0 || s.health.error);
  $('health-section').hidden = !show;
  if (!show) return;
  $('health')
    .querySelector('tbody')
    .replaceChildren(
      ...s.health.items.map((h) =>
        el(
          'tr',
          { 'data-id': h.id ?? '', 'data-health': h.state },
          el('td', {}, h.id ?? '–'),
          el('td', {}, h.pid ?? '–'),
          el('td', {}, healthBadge(h)),
          el('td', { class: 'beat', 'data-beat': h.lastHeartbeatAt ?? '' }),
        ),
      ),
    );
  showError('health-error', s.health.error);
}

function renderAnnounced(s) {
  const list = s.announced || [];
  $('announced-section').hidden = list.length === 0;
  $('announced').replaceChildren(
    ...list.map((a) =>
      el('li', {}, el('a', { href: a.url }, a.url), ` process ${a.pid}, root ${a.root ?? '–'}`),
    ),
  );
}

/** Ages (uptime, heartbeat, lease expiry) from the snapshot's times and the observer's clock. */
function tick() {
  const t = now();
  for (const td of document.querySelectorAll('td.uptime')) {
    const v = td.dataset.started;
    td.textContent = v ? `${td.dataset.exact === '1' ? '' : '≥'}${duration(t - Number(v))}` : '–';
  }
  for (const td of document.querySelectorAll('td.beat')) {
    const v = td.dataset.beat;
    td.textContent = v ? `${duration(t - Number(v))} ago` : '–';
  }
  for (const td of document.querySelectorAll('td.down-since')) {
    const v = td.dataset.down;
    td.textContent = v ? `down for ${duration(t - Number(v))}` : 'down';
  }
  for (const td of document.querySelectorAll('td.expires')) {
    if (td.dataset.expired === '1') {
      td.textContent = 'lapsed';
      continue;
    }
    const v = td.dataset.expires;
    td.textContent = v ? (Number(v) > t ? duration(Number(v) - t) : 'expired') : '–';
  }
}

function render(s) {
  if (state.observerStartedAt !== undefined && state.observerStartedAt !== s.observer.startedAt) {
    // Another observer instance (restarted): its event numbering starts again.
    state.lastSeq = 0;
    $('events').replaceChildren();
  }
  state.observerStartedAt = s.observer.startedAt;
  state.snapshot = s;
  state.offset = s.at - Date.now();
  document.title = s.title;
  $('title').textContent = s.title;
  $('meta').textContent = `process ${s.observer.pid}${s.observer.root ? ` · root ${s.observer.root}` : ''}`;
  renderTree(s);
  renderRegistry(s);
  renderPools(s);
  renderLeases(s);
  renderCluster(s);
  renderHealth(s);
  renderAnnounced(s);
  tick();
}

function appendEvents(list) {
  const ol = $('events');
  const atBottom = ol.scrollHeight - ol.scrollTop - ol.clientHeight < 30;
  for (const e of list) {
    if (e.seq <= state.lastSeq) continue;
    state.lastSeq = e.seq;
    ol.append(
      el(
        'li',
        { class: `ev-${e.type}`, 'data-type': e.type, 'data-seq': e.seq },
        el('time', {}, new Date(e.at).toISOString().slice(11, 23)),
        e.text,
      ),
    );
  }
  while (ol.childElementCount > MAX_EVENTS) ol.firstElementChild.remove();
  // Follow the log unless the reader scrolled up to look at something.
  if (atBottom) ol.scrollTop = ol.scrollHeight;
}

function connect() {
  const conn = $('conn');
  const es = new EventSource('/api/events');
  es.addEventListener('open', () => {
    conn.className = 'conn conn-live';
    conn.textContent = 'live';
  });
  es.addEventListener('error', () => {
    conn.className = 'conn conn-lost';
    conn.textContent = 'reconnecting…';
  });
  es.addEventListener('snapshot', (m) => render(JSON.parse(m.data)));
  es.addEventListener('events', (m) => appendEvents(JSON.parse(m.data)));
}

initToken();
connect();
setInterval(tick, 1000);
pollLogs();
setInterval(pollLogs, 1000);
