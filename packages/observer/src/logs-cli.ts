/**
 * `trellis logs [pool] [-f]`: the workers' structured log records from a running observer (its
 * `GET /api/logs`), like `pm2 logs`. The observer is found as `trellis status` finds it (--url,
 * $TRELLIS_OBSERVER_URL, the Trellis home, this user's runtime directory). Reading the logs needs a
 * token: --token / $TRELLIS_OBSERVER_TOKEN, else the read token the observer wrote into its
 * announce file (mode 0600: only the user who runs the app can read it).
 */
import { TrellisError } from '@trellis/core';
import { type CliStreams, cliStreams, parseFlagsOr, walkFlags } from '@trellis/core/cli';
import { resolveHomeDir } from '@trellis/home';
import { announcedReadToken, userAnnounceDir } from './announce.js';
import { OBSERVER_DEFAULTS } from './defaults.js';
import { ObserverUnreachableError } from './errors.js';
import { getJson } from './get-json.js';
import type { LogRecordView } from './log-tail.js';
import { findAnnounced } from './status-cli.js';

/** What `trellis logs` runs with: core's CLI streams, and a signal that ends `-f` (Ctrl-C does otherwise). */
export interface LogsIo extends CliStreams {
  readonly signal?: AbortSignal | undefined;
}

const USAGE = `usage: trellis logs [POOL] [-f] [--worker N] [--lines N] [--json] [--url URL] [--dir DIR] [--token T]
  prints the log records of the pools' workers (Python logging, stderr, the pool's lifecycle)
  POOL          only this pool (its name in the observer's pools)
  -f, --follow  keep printing new records until interrupted
  --worker N    only the worker in slot N
  --lines N     records to print first (default 50)
  --json        one JSON record per line
  --url URL     the observer (default: $${OBSERVER_DEFAULTS.urlEnv}, else the announced ones)
  --token T     a token of that observer (default: $TRELLIS_OBSERVER_TOKEN, else the announce file's)
`;

interface Flags {
  pool?: string;
  follow: boolean;
  worker?: number;
  lines: number;
  json: boolean;
  url?: string;
  dir?: string;
  token?: string;
}

function parseFlags(args: readonly string[]): Flags {
  const f: Flags = { follow: false, lines: 50, json: false };
  walkFlags(args, ({ arg, name, value, count }) => {
    if (name === '-f' || name === '--follow') f.follow = true;
    else if (name === '--worker') f.worker = count();
    else if (name === '--lines' || name === '-n') f.lines = count();
    else if (name === '--json') f.json = true;
    else if (name === '--url') f.url = value();
    else if (name === '--dir') f.dir = value();
    else if (name === '--token') f.token = value();
    else if (!arg.startsWith('-') && f.pool === undefined) f.pool = arg;
    else throw new Error(`unknown option ${arg}`);
  });
  return f;
}

const LEVEL_WIDTH = 5;

/** One record as one line (its traceback indented below it). */
export function formatRecord(r: LogRecordView): string {
  const time = new Date(r.at).toISOString().slice(11, 23);
  const who = `${r.pool}${r.worker !== null ? `/${r.worker}` : ''}${r.workerPid !== null ? ` ${r.workerPid}` : ''}`;
  const call = r.callId ? ` [${r.tool ?? ''} ${r.callId}]` : '';
  const tb = r.traceback ? `\n${r.traceback.replace(/\n$/, '').replace(/^/gm, '    ')}` : '';
  return `${time} ${r.level.toUpperCase().padEnd(LEVEL_WIDTH)} ${who}${call} ${r.msg}${tb}`;
}

export async function main(args: readonly string[], io: Partial<LogsIo> = {}): Promise<number> {
  const out: LogsIo = { ...cliStreams(io), signal: io.signal };
  if (args.includes('--help') || args.includes('-h')) {
    out.stdout.write(USAGE);
    return 0;
  }
  const flags = parseFlagsOr(() => parseFlags(args), out.stderr, USAGE);
  if (flags === undefined) return 2;
  try {
    const { url, token } = locate(flags, out);
    const print = (records: readonly LogRecordView[]): void => {
      for (const r of records) out.stdout.write(`${flags.json ? JSON.stringify(r) : formatRecord(r)}\n`);
    };
    const first = await getLogs(url, token, { ...flags, limit: flags.lines, since: 0 });
    print(first.records);
    let since = first.lastSeq;
    // Follow: ask for what came after the last record seen, twice a second, until interrupted.
    const ac = new AbortController();
    const stop = (): void => ac.abort();
    out.signal?.addEventListener('abort', stop, { once: true });
    if (flags.follow && !out.signal) process.once('SIGINT', stop);
    while (flags.follow && !ac.signal.aborted) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, 500);
        ac.signal.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            r();
          },
          { once: true },
        );
      });
      if (ac.signal.aborted) break;
      const next = await getLogs(url, token, { ...flags, limit: OBSERVER_DEFAULTS.logTailSize, since });
      print(next.records);
      since = next.lastSeq;
    }
    process.off('SIGINT', stop);
    return 0;
  } catch (e) {
    const code = e instanceof TrellisError ? ` [${e.code}]` : '';
    out.stderr.write(`trellis logs: ${(e as Error).message}${code}\n`);
    return 1;
  }
}

function locate(flags: Flags, io: LogsIo): { url: string; token: string | undefined } {
  const env = io.env;
  const explicitToken = flags.token ?? (env.TRELLIS_OBSERVER_TOKEN || undefined);
  const explicit = flags.url ?? (env[OBSERVER_DEFAULTS.urlEnv] || undefined);
  const dir = resolveHomeDir({ dir: flags.dir, env, cwd: io.cwd });
  const user = userAnnounceDir(env);
  const tokenFor = (url: string): string | undefined =>
    explicitToken ??
    announcedReadToken(dir, url) ??
    (user === undefined ? undefined : announcedReadToken(user, url));
  if (explicit !== undefined) return { url: explicit, token: tokenFor(explicit) };
  const found = findAnnounced(dir, env)[0];
  if (found === undefined)
    throw new ObserverUnreachableError(
      '(none announced)',
      new Error(
        `no running observer is announced in ${dir} or this user's runtime directory; pass --url URL`,
      ),
    );
  return { url: found.url, token: tokenFor(found.url) };
}

async function getLogs(
  base: string,
  token: string | undefined,
  q: { pool?: string; worker?: number; limit: number; since: number },
): Promise<{ lastSeq: number; records: LogRecordView[] }> {
  const url = new URL('api/logs', base.endsWith('/') ? base : `${base}/`);
  url.searchParams.set('since', String(q.since));
  url.searchParams.set('limit', String(q.limit));
  if (q.pool !== undefined) url.searchParams.set('pool', q.pool);
  if (q.worker !== undefined) url.searchParams.set('worker', String(q.worker));
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token !== undefined) headers[OBSERVER_DEFAULTS.tokenHeader] = token;
  const { status, body: v } = await getJson(
    url,
    headers,
    OBSERVER_DEFAULTS.statusTimeoutMs,
    'no answer in time',
    (e) => new ObserverUnreachableError(base, e),
  );
  if (status === 403)
    throw new Error(
      'the observer refused the token: pass --token with its control token (printed at its start)',
    );
  if (status !== 200) throw new Error(v?.error?.message ?? `HTTP ${status}`);
  return v;
}
