/** The snapshot as plain text, for `trellis status` (ages are computed against the snapshot's `at`). */
import type { PersistedHealth, PersistedLeases } from './health-persisted.js';
import type { PersistedRegistry } from './persisted.js';
import type { PoolView, Snapshot, TreeNodeView } from './snapshot.js';
import type { RegistryProcessView, RegistryRunView } from './sources.js';

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

function nodeLine(n: TreeNodeView, at: number): string {
  const parts = [
    n.id ?? n.label ?? (n.supervisor === null ? 'root' : '(dynamic)'),
    n.pid ?? '-',
    n.type,
    n.status,
  ];
  if (n.osPid !== undefined) parts.push(`os pid ${n.osPid}`);
  if (n.strategy) parts.push(n.strategy);
  if (n.supervisor !== null) parts.push(`restarts ${n.restarts}`);
  if (n.startedAt !== null && n.status !== 'stopped') {
    parts.push(`up ${n.startedAtExact ? '' : '>='}${formatDuration(at - n.startedAt)}`);
  }
  if (n.health) {
    const age =
      n.health.lastHeartbeatAt !== undefined
        ? ` (beat ${formatDuration(at - n.health.lastHeartbeatAt)} ago)`
        : '';
    parts.push(`health ${n.health.state.toUpperCase()}${age}`);
  }
  if (n.observer) parts.push('[observer]');
  if (n.error) parts.push(`! ${n.error}`);
  return parts.join('  ');
}

function renderTree(
  n: TreeNodeView,
  at: number,
  prefix: string,
  last: boolean,
  root: boolean,
  out: string[],
): void {
  out.push(root ? nodeLine(n, at) : `${prefix}${last ? '└─ ' : '├─ '}${nodeLine(n, at)}`);
  const kids = n.children ?? [];
  const next = root ? '' : `${prefix}${last ? '   ' : '│  '}`;
  kids.forEach((c, i) => {
    renderTree(c, at, next, i === kids.length - 1 && !n.hiddenChildren, false, out);
  });
  if (n.hiddenChildren) out.push(`${next}└─ … ${n.hiddenChildren} more`);
}

function processLine(p: RegistryProcessView): string {
  const cmd = [p.command, ...(p.args ?? [])].join(' ');
  return `  ${p.status.padEnd(8)} pid ${String(p.pid ?? '-').padEnd(7)} ${p.role}/${p.name}  ${cmd.slice(0, 100)}`;
}

function runLine(r: RegistryRunView): string {
  return `  run ${r.runId}  host ${r.hostPid} ${r.host}  since ${r.startedAt}`;
}

/** A running observer's snapshot as text. */
export function renderStatus(s: Snapshot, events = 10): string {
  const out: string[] = [];
  out.push(`${s.title}  ${s.observer.url}  (process ${s.observer.pid}, at ${new Date(s.at).toISOString()})`);
  out.push('');
  out.push('supervision tree');
  if (s.tree === null) out.push('  (this observer watches no tree)');
  else {
    const lines: string[] = [];
    renderTree(s.tree, s.at, '', true, true, lines);
    for (const l of lines) out.push(`  ${l}`);
  }
  if (s.health && s.health.items.length + (s.health.error ? 1 : 0) > 0) {
    out.push('', 'other monitored actors');
    for (const h of s.health.items) {
      const age = h.lastHeartbeatAt != null ? `  beat ${formatDuration(s.at - h.lastHeartbeatAt)} ago` : '';
      out.push(`  ${h.id ?? '-'}  ${h.pid ?? '-'}  ${String(h.state).toUpperCase()}${age}`);
    }
    if (s.health.error) out.push(`  ! ${s.health.error}`);
  }
  if (s.registry) {
    out.push('', `registry processes (${s.registry.items.length})`);
    for (const r of s.registry.runs ?? []) out.push(runLine(r));
    for (const p of s.registry.items) out.push(processLine(p));
    if (s.registry.error) out.push(`  ! ${s.registry.error}`);
  }
  if (s.pools) {
    out.push('', 'pools');
    for (const p of s.pools) out.push(...renderPool(p, s.at));
  }
  if (s.leases) {
    out.push('', 'leases');
    for (const l of s.leases.items) {
      const exp = l.expired
        ? '  lapsed'
        : l.expiresAt !== undefined
          ? `  expires in ${formatDuration(l.expiresAt - s.at)}`
          : '';
      out.push(`  ${l.name}  holder ${l.holder ?? '(none)'}  epoch ${l.epoch}${exp}`);
    }
    if (s.leases.error) out.push(`  ! ${s.leases.error}`);
  }
  if (s.cluster) {
    out.push('', 'cluster');
    out.push(
      ...table([
        ['NODE', 'HOST', 'INCARNATION', 'STATE', 'RUNS', 'PY WORKERS', 'POOLS (READY/SIZE)'],
        ...s.cluster.items.map((n) => [
          n.node,
          n.host,
          String(n.incarnation),
          n.state,
          String(n.runs.length),
          String(n.pythonWorkers),
          n.pools.map((p) => `${p.name} ${p.ready}/${p.size}`).join(', ') || '-',
        ]),
      ]).map((l) => `  ${l}`),
    );
    if (s.cluster.error) out.push(`  ! ${s.cluster.error}`);
  }
  if (s.announced && s.announced.length > 0) {
    out.push('', 'observers running in this Trellis home');
    for (const a of s.announced) out.push(`  ${a.url}  process ${a.pid}  root ${a.root ?? '-'}`);
  }
  const ev = (s.events ?? []).slice(-events);
  if (ev.length > 0) {
    out.push('', `recent events (${ev.length})`);
    for (const e of ev) out.push(`  ${new Date(e.at).toISOString().slice(11, 23)}  ${e.text}`);
  }
  return `${out.join('\n')}\n`;
}

/** What the persisted data says, when no observer answered. */
export function renderPersisted(
  r: PersistedRegistry,
  health: PersistedHealth,
  leases: PersistedLeases,
  note: string,
): string {
  const out: string[] = [note, ''];
  if (!r.exists) out.push(`no registry at ${r.dir}`);
  else {
    out.push(`registry ${r.dir}: ${r.runs.length} run(s), ${r.processes.length} process record(s)`);
    for (const run of r.runs) {
      out.push(runLine(run));
      for (const p of r.processes.filter((x) => x.runId === run.runId)) out.push(`  ${processLine(p)}`);
    }
    for (const p of r.processes.filter((x) => !r.runs.some((run) => run.runId === x.runId))) {
      out.push(`  ${processLine(p)}  (no run record)`);
    }
  }
  if (health.available && (health.records.length > 0 || health.error)) {
    out.push('', `heartbeat records (${health.records.length})`);
    const at = Date.now();
    for (const h of health.records) {
      const age = h.lastHeartbeatAt != null ? `  beat ${formatDuration(at - h.lastHeartbeatAt)} ago` : '';
      out.push(
        `  ${h.id ?? '-'}  ${h.pid ?? '-'}  ${String(h.state).toUpperCase()}  restarts ${h.restarts ?? 0}${age}`,
      );
    }
    if (health.error) out.push(`  ! ${health.error}`);
  }
  if (leases.available) {
    out.push('', `leases (${leases.leases.length})`);
    const at = Date.now();
    for (const l of leases.leases) {
      const exp = l.expired
        ? '  lapsed'
        : l.expiresAt !== undefined
          ? `  expires in ${formatDuration(l.expiresAt - at)}`
          : '';
      out.push(`  ${l.name}  holder ${l.holder ?? '(none)'}  epoch ${l.epoch}${exp}`);
    }
    if (leases.error) out.push(`  ! ${leases.error}`);
  }
  return `${out.join('\n')}\n`;
}

const ms = (v: number | null): string =>
  v === null ? '-' : v < 10 ? `${v.toFixed(1)}ms` : `${Math.round(v)}ms`;
const mib = (b: number | null): string => (b === null ? '-' : `${(b / (1024 * 1024)).toFixed(1)}MB`);

/** Columns padded to their widest cell, two spaces apart (pm2's list, in plain text). */
export function table(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const r of rows) for (const [i, c] of r.entries()) widths[i] = Math.max(widths[i] ?? 0, c.length);
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

/** One pool: a summary line, then for a ToolPool a row per Python worker. */
export function renderPool(p: PoolView, at: number): string[] {
  if (p.error !== undefined) return [`  ${p.name}: ! ${p.error}`];
  const t = p.tool;
  if (t === undefined)
    return [`  ${p.name}: ${(p.values ?? []).map((v) => `${v.label} ${String(v.value)}`).join('  ')}`];
  const out = [
    `  ${p.name}  ${t.status}  ${t.ready}/${t.size} ready  in flight ${t.inFlight}  queue ${t.queueDepth}  calls ${t.calls}  failed ${t.failed}  p50 ${ms(t.p50)}  p99 ${ms(t.p99)}  restarts ${t.restarts}  recycles ${t.recycles}${t.crashes ? `  crashes ${t.crashes}` : ''}${t.circuit !== 'off' ? `  circuit ${t.circuit}` : ''}`,
  ];
  if (t.quarantined.length > 0) out.push(`    quarantined: ${t.quarantined.join(', ')}`);
  if (t.errorsByCode.length > 0)
    out.push(`    errors: ${t.errorsByCode.map((e) => `${e.code} ${e.count}`).join(', ')}`);
  const rows = [
    [
      'worker',
      'pid',
      'state',
      'uptime',
      'in-flight',
      'calls',
      'errors',
      'p50',
      'p99',
      'rss',
      'cpu',
      'restarts',
      'last exit',
    ],
  ];
  for (const w of t.workers)
    rows.push([
      String(w.slot),
      String(w.pid),
      w.state,
      w.startedAt === null ? '-' : formatDuration(at - w.startedAt),
      String(w.inFlight),
      String(w.calls),
      String(w.errors),
      ms(w.p50),
      ms(w.p99),
      mib(w.rssBytes),
      w.cpuPercent === null ? '-' : `${Math.round(w.cpuPercent)}%`,
      String(w.restarts),
      w.lastExit ?? '-',
    ]);
  for (const l of table(rows)) out.push(`    ${l}`);
  return out;
}
