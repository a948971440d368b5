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
  const label = node.id ?? (isRoot ? 'root' : '(dynamic)');
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
  body.replaceChildren(...rows);
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
      el('td', { class: 'cmd' }, [p.command, ...(p.args || [])].join(' ')),
    ),
  );
  if (rows.length === 0)
    rows.push(el('tr', {}, el('td', { colspan: 4, class: 'dim' }, 'no processes recorded')));
  $('registry')
    .querySelector('tbody')
    .replaceChildren(...rows);
  showError('registry-error', s.registry.error);
}

function renderPools(s) {
  $('pools-section').hidden = !s.pools;
  if (!s.pools) return;
  $('pools').replaceChildren(
    ...s.pools.map((p) => {
      const content = p.stats
        ? el(
            'dl',
            {},
            ...Object.entries(p.stats).map(([k, v]) =>
              el('div', {}, el('dt', {}, k), el('dd', {}, String(v))),
            ),
          )
        : el('div', { class: 'error' }, p.error);
      return el('div', { class: 'pool', 'data-pool': p.name }, el('h3', {}, p.name), content);
    }),
  );
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
