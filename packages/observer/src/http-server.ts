/**
 * The observer's HTTP face (node:http, no framework):
 *
 *   GET  /                 the page (public/index.html, app.js, style.css)
 *   GET  /api/snapshot     the current snapshot as JSON (?events=N: with the newest N events)
 *   GET  /api/events       Server-Sent Events: `snapshot` and `events` pushes
 *   GET  /api/logs         the workers' log records (?pool, worker, since, limit): the control token
 *                          or the read token of the announce files
 *   GET  /metrics          Prometheus exposition (metrics-endpoint.ts)
 *   GET  /vendor/uplot.*   uPlot, from its npm package (the page's charts)
 *   POST /api/kill         { pid }            needs the token
 *   POST /api/restart      { supervisor, id } needs the token
 *   POST /api/status       { pid }            needs the token: getStatus of a gen_server/gen_statem
 *
 * Reading the tree and the metrics needs no token (the snapshot carries no command line: see
 * observer.ts stripCommand); the logs need one; every control request does (X-Trellis-Token header or a form field
 * `token`), checked before anything else is looked at. Requests whose Host is not this observer's
 * loopback address are refused, so a web page the browser opens elsewhere cannot reach the API
 * through DNS rebinding, and a control request from another origin is refused too.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { OBSERVER_DEFAULTS } from './defaults.js';
import { forbidden, ObserverRequestError } from './errors.js';
import type { LogQuery } from './log-tail.js';
import { tokenMatches } from './token.js';

export interface HttpApi {
  readonly token: string;
  /** Grants `GET /api/logs` only (the control token does too). */
  readonly readToken: string;
  /** The JSON answer of `GET /api/logs`. */
  logs(q: LogQuery): string;
  /** Serves `GET /metrics`; false when the endpoint is off. */
  metrics(req: IncomingMessage, res: ServerResponse): boolean;
  snapshotJson(events: number): string | undefined;
  /** Adds an SSE stream; false when there are too many. */
  attach(res: ServerResponse): boolean;
  kill(body: Record<string, unknown>): Promise<unknown>;
  restart(body: Record<string, unknown>): Promise<unknown>;
  /** getStatus of a process of the tree: its state as its formatStatus shows it (needs the token). */
  status(body: Record<string, unknown>): Promise<unknown>;
}

const PUBLIC = new URL('../../public/', import.meta.url);
const require = createRequire(import.meta.url);
/** uPlot, vendored from its npm package and served from here: the page loads nothing from elsewhere. */
const UPLOT_DIR = dirname(require.resolve('uplot/package.json'));
const VENDOR: Readonly<Record<string, { file: string; type: string }>> = Object.freeze({
  '/vendor/uplot.js': {
    file: join(UPLOT_DIR, 'dist', 'uPlot.iife.min.js'),
    type: 'text/javascript; charset=utf-8',
  },
  '/vendor/uplot.css': { file: join(UPLOT_DIR, 'dist', 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
});

const STATIC: Readonly<Record<string, { file: string; type: string }>> = Object.freeze({
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
});

const SECURITY_HEADERS = Object.freeze({
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
});

export function createObserverServer(api: HttpApi, port: () => number): Server {
  // Read once: the page is small, and a missing file should fail at start-up, not on first visit.
  const files = new Map<string, Buffer>();
  for (const { file } of Object.values(STATIC)) {
    if (!files.has(file)) files.set(file, readFileSync(new URL(file, PUBLIC)));
  }
  for (const { file } of Object.values(VENDOR)) files.set(file, readFileSync(file));
  const server = createServer((req, res) => {
    handle(api, files, port(), req, res).catch((e) => sendError(res, e));
  });
  // A slow client cannot hold a connection open forever before sending its request.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  return server;
}

async function handle(
  api: HttpApi,
  files: Map<string, Buffer>,
  port: number,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const hosts = [`127.0.0.1:${port}`, `localhost:${port}`];
  if (!hosts.includes(req.headers.host ?? '')) {
    throw new ObserverRequestError(
      421,
      'ERR_OBSERVER_BAD_HOST',
      `requests must be addressed to http://127.0.0.1:${port}/ (Host header was ${JSON.stringify(req.headers.host ?? null)})`,
    );
  }
  const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
  const path = url.pathname;
  if (path === '/api/kill' || path === '/api/restart' || path === '/api/status') {
    if (req.method !== 'POST') throw methodNotAllowed('POST');
    const origin = req.headers.origin;
    if (origin !== undefined && !hosts.some((h) => origin === `http://${h}`)) {
      throw new ObserverRequestError(
        403,
        'ERR_OBSERVER_BAD_ORIGIN',
        `control requests are accepted only from the observer's own page, not from origin ${origin}`,
      );
    }
    const body = await readBody(req);
    const header = req.headers[OBSERVER_DEFAULTS.tokenHeader];
    const given = typeof header === 'string' ? header : body.token;
    // The token is checked before the request is looked at: without it nothing is validated or done.
    if (!tokenMatches(api.token, given)) throw forbidden();
    // /api/status is a POST behind the token too: a process's state may hold what only its owner may see.
    const result =
      path === '/api/kill'
        ? await api.kill(body)
        : path === '/api/restart'
          ? await api.restart(body)
          : await api.status(body);
    sendJson(res, 200, { ok: true, ...(result as object) });
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') throw methodNotAllowed('GET');
  if (path === '/api/snapshot') {
    const n = Number(url.searchParams.get('events') ?? 0);
    const json = api.snapshotJson(
      Number.isInteger(n) && n > 0 ? Math.min(n, OBSERVER_DEFAULTS.eventLogSize) : 0,
    );
    if (json === undefined) {
      throw new ObserverRequestError(
        503,
        'ERR_OBSERVER_NOT_READY',
        'the first walk of the tree has not finished; retry in a moment',
      );
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8' });
    res.end(json);
    return;
  }
  if (path === '/api/logs') {
    const header = req.headers[OBSERVER_DEFAULTS.tokenHeader];
    const given = typeof header === 'string' ? header : undefined;
    // Logs may carry what tools print (arguments, data): the same user only (see the read token).
    if (!tokenMatches(api.token, given) && !tokenMatches(api.readToken, given)) throw forbidden();
    const int = (k: string): number | undefined => {
      const v = url.searchParams.get(k);
      if (v === null || v === '') return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0)
        throw new ObserverRequestError(400, 'ERR_OBSERVER_BAD_REQUEST', `${k} must be a whole number >= 0`);
      return n;
    };
    const body = api.logs({
      since: int('since'),
      worker: int('worker'),
      limit: Math.min(int('limit') ?? OBSERVER_DEFAULTS.logTailSize, OBSERVER_DEFAULTS.logTailSize),
      pool: url.searchParams.get('pool') || undefined,
    });
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8' });
    res.end(body);
    return;
  }
  if (path === '/metrics') {
    if (!api.metrics(req, res))
      throw new ObserverRequestError(
        404,
        'ERR_OBSERVER_NOT_FOUND',
        'the metrics endpoint is off (metrics: false)',
      );
    return;
  }
  const vendor = VENDOR[path];
  if (vendor !== undefined) {
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': vendor.type, 'cache-control': 'max-age=3600' });
    res.end(req.method === 'HEAD' ? undefined : files.get(vendor.file));
    return;
  }
  if (path === '/api/events') {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      connection: 'keep-alive',
    });
    // The browser reconnects by itself after a dropped stream; 1 s keeps a restarted observer quick to find.
    res.write('retry: 1000\n\n');
    if (!api.attach(res)) {
      res.end('event: busy\ndata: {}\n\n');
    }
    return;
  }
  const asset = STATIC[path];
  if (asset !== undefined) {
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': asset.type });
    res.end(req.method === 'HEAD' ? undefined : files.get(asset.file));
    return;
  }
  throw new ObserverRequestError(404, 'ERR_OBSERVER_NOT_FOUND', `no such page or endpoint: ${path}`);
}

function methodNotAllowed(allowed: string): ObserverRequestError {
  return new ObserverRequestError(405, 'ERR_OBSERVER_BAD_REQUEST', `use ${allowed} for this endpoint`);
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > OBSERVER_DEFAULTS.maxBodyBytes) {
      throw new ObserverRequestError(
        413,
        'ERR_OBSERVER_BAD_REQUEST',
        `request body over ${OBSERVER_DEFAULTS.maxBodyBytes} bytes`,
      );
    }
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text));
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through to the error below
  }
  throw new ObserverRequestError(
    400,
    'ERR_OBSERVER_BAD_REQUEST',
    'the body must be a JSON object or an application/x-www-form-urlencoded form',
  );
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, e: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (e instanceof ObserverRequestError) {
    sendJson(res, e.status, { error: { code: e.code, message: e.message } });
    return;
  }
  const code = (e as { code?: unknown })?.code;
  sendJson(res, 500, {
    error: {
      code: typeof code === 'string' ? code : 'ERR_OBSERVER_INTERNAL',
      message: (e as Error)?.message ?? String(e),
    },
  });
}
