/**
 * `trellis status`: the observer's data without a browser, loaded by scripts/trellis-cli.mjs.
 *
 *   trellis status [--url URL] [--dir DIR] [--json] [--events N] [--timeout-ms N]
 *
 * Where the data comes from, in order:
 * 1. `--url` (or $TRELLIS_OBSERVER_URL): that running observer's `GET /api/snapshot`; an error if it
 *    does not answer.
 * 2. Observers announced in the Trellis home (`--dir` > $TRELLIS_HOME > ./.trellis): the newest whose
 *    process is alive and answers.
 * 3. Otherwise what is persisted there (read-only): the registry's runs and processes, and the
 *    heartbeat records and leases of @trellis/health when it is installed. The supervision tree itself lives in
 *    the application's memory, so only a running observer can show it.
 */
import { TrellisError } from '@trellis/core';
import { type CliStreams, cliStreams, parseFlagsOr, walkFlags } from '@trellis/core/cli';
import { resolveHomeDir } from '@trellis/home';
import { listAnnounced, userAnnounceDir } from './announce.js';
import { OBSERVER_DEFAULTS } from './defaults.js';
import { ObserverUnreachableError } from './errors.js';
import { getJson } from './get-json.js';
import { readPersistedHealth, readPersistedLeases } from './health-persisted.js';
import { readPersistedRegistry } from './persisted.js';
import { renderPersisted, renderStatus } from './render-text.js';
import type { Snapshot } from './snapshot.js';

/** What `trellis status` runs with: core's CLI streams. */
export type StatusIo = CliStreams;

const USAGE = `usage: trellis status [--url URL] [--dir DIR] [--json] [--events N] [--timeout-ms N]
  prints the supervision tree, registry processes, pools, leases and recent events
  --url URL     ask the observer at URL (default: $${OBSERVER_DEFAULTS.urlEnv}, else the observers
                announced in the Trellis home, else in this user's runtime directory)
  --dir DIR     the Trellis home: --dir, else $TRELLIS_HOME, else ./.trellis
  --json        print JSON: { source: "observer", url, snapshot } or
                { source: "persisted", dir, registry, health, leases }
  --events N    recent events to print (default 10)
when no observer answers, prints what is persisted in the Trellis home (registry runs and processes,
heartbeat records, leases)
`;

interface Flags {
  url?: string;
  dir?: string;
  json: boolean;
  events: number;
  timeoutMs: number;
}

function parseFlags(args: readonly string[]): Flags {
  const f: Flags = { json: false, events: 10, timeoutMs: OBSERVER_DEFAULTS.statusTimeoutMs };
  walkFlags(args, ({ arg, name, value, count }) => {
    if (name === '--url') f.url = value();
    else if (name === '--dir') f.dir = value();
    else if (name === '--json') f.json = true;
    else if (name === '--events') f.events = count(0);
    else if (name === '--timeout-ms') f.timeoutMs = count(1);
    else throw new Error(`unknown option ${arg}`);
  });
  return f;
}

/** Runs `trellis status`; resolves to the exit code. */
export async function main(args: readonly string[], io: Partial<StatusIo> = {}): Promise<number> {
  const out: StatusIo = cliStreams(io);
  if (args.includes('--help') || args.includes('-h') || args[0] === 'help') {
    out.stdout.write(USAGE);
    return 0;
  }
  const flags = parseFlagsOr(() => parseFlags(args), out.stderr, USAGE);
  if (flags === undefined) return 2;
  try {
    const explicit = flags.url ?? nonEmpty(out.env[OBSERVER_DEFAULTS.urlEnv]);
    if (explicit !== undefined) {
      const snap = await fetchSnapshot(explicit, flags);
      print(out, flags, explicit, snap);
      return 0;
    }
    const dir = resolveHomeDir({ dir: flags.dir, env: out.env, cwd: out.cwd });
    const tried: string[] = [];
    for (const a of findAnnounced(dir, out.env)) {
      try {
        print(out, flags, a.url, await fetchSnapshot(a.url, flags));
        return 0;
      } catch {
        tried.push(a.url);
      }
    }
    const [persisted, health, leases] = await Promise.all([
      readPersistedRegistry(dir),
      readPersistedHealth(dir),
      readPersistedLeases(dir),
    ]);
    if (flags.json) {
      const data = { source: 'persisted', dir, unreachable: tried, registry: persisted, health, leases };
      out.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    } else {
      const note =
        tried.length > 0
          ? `no observer answered (tried ${tried.join(', ')}); persisted data only:`
          : `no running observer is announced in ${dir} or this user's runtime directory (pass --url URL to ask one); persisted data only:`;
      out.stdout.write(renderPersisted(persisted, health, leases, note));
    }
    return 0;
  } catch (e) {
    const code = e instanceof TrellisError ? ` [${e.code}]` : '';
    out.stderr.write(`trellis status: ${(e as Error).message}${code}\n`);
    return 1;
  }
}

/**
 * Running observers, newest first: those announced in the Trellis home, then those announced in
 * this user's runtime directory (every observer writes there too, so one is found from any
 * directory), without duplicates.
 */
export function findAnnounced(dir: string, env: Readonly<Record<string, string | undefined>>) {
  const user = userAnnounceDir(env);
  const all = [...listAnnounced(dir), ...(user === undefined ? [] : listAnnounced(user))];
  return all.filter((a, i) => all.findIndex((b) => b.url === a.url) === i);
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

function print(io: StatusIo, flags: Flags, url: string, snap: Snapshot): void {
  if (flags.json)
    io.stdout.write(`${JSON.stringify({ source: 'observer', url, snapshot: snap }, null, 2)}\n`);
  else io.stdout.write(renderStatus(snap, flags.events));
}

/**
 * GET <url>/api/snapshot. An observer that has just started answers 503 until its first walk of the
 * tree is done: asked again every 100 ms within the time-out.
 */
async function fetchSnapshot(base: string, flags: Flags): Promise<Snapshot> {
  const deadline = Date.now() + flags.timeoutMs;
  for (;;) {
    try {
      return await getSnapshot(base, flags);
    } catch (e) {
      if (!(e instanceof NotReady) || Date.now() + 100 > deadline) {
        throw e instanceof ObserverUnreachableError ? e : new ObserverUnreachableError(base, e);
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

class NotReady extends Error {}

/** One GET on a plain one-shot connection (no keep-alive socket to hold the CLI open). */
async function getSnapshot(base: string, flags: Flags): Promise<Snapshot> {
  let url: URL;
  try {
    url = new URL('api/snapshot', base.endsWith('/') ? base : `${base}/`);
  } catch (e) {
    throw new ObserverUnreachableError(base, e);
  }
  if (url.protocol !== 'http:')
    throw new ObserverUnreachableError(base, new Error('only http:// URLs are supported'));
  url.searchParams.set('events', String(Math.max(flags.events, 1)));
  const { status, body: v } = await getJson(
    url,
    { accept: 'application/json' },
    flags.timeoutMs,
    `no answer within ${flags.timeoutMs} ms`,
  );
  if (status === 503 && v?.error?.code === 'ERR_OBSERVER_NOT_READY') throw new NotReady(v.error.message);
  if (status !== 200) throw new Error(v?.error?.message ?? `HTTP ${status}`);
  if (typeof v?.version !== 'number' || !('tree' in v))
    throw new Error('the answer is not an observer snapshot');
  return v as Snapshot;
}
