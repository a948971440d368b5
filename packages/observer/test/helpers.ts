/** Shared test helpers: bounded waiting, real HTTP and SSE clients, a recorder of supervisor events. */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { currentNode, defineServer, eventBus, type SupervisorEvent } from '@trellis/core';
import type { EventView, Snapshot } from '../src/index.js';

export const CLI = fileURLToPath(new URL('../../../../scripts/trellis-cli.mjs', import.meta.url));
export const SQUARE_TASK = new URL('./fixtures/square.js', import.meta.url);

/** A gen_server that does nothing: a child to kill and restart. */
export const idle = defineServer<Record<string, never>, []>({ init: () => ({}) });

/** Polls `cond` until it returns a truthy value (bounded); for states no event announces. */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  what: string,
  timeoutMs = 15_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A temporary directory whose name carries the test marker (the runner's leftover check sees it). */
export function tempDir(what: string): string {
  return mkdtempSync(join(tmpdir(), `trellis-test-marker-observer-${what}-`));
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: any;
}

/** One HTTP request on a fresh connection; the body is parsed as JSON when it is JSON. */
export function http(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers, agent: false, timeout: 30_000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {
            // not JSON: keep the text
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url}`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

export function postJson(url: string, body: unknown, token?: string): Promise<HttpAnswer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers['x-trellis-token'] = token;
  return http(url, { method: 'POST', headers, body: JSON.stringify(body) });
}

export function postForm(url: string, fields: Record<string, string>): Promise<HttpAnswer> {
  return http(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

/** A real SSE client of `/api/events`: keeps every snapshot and event pushed. */
export class SseClient {
  readonly snapshots: Snapshot[] = [];
  readonly events: EventView[] = [];
  #req: ReturnType<typeof request> | undefined;

  static open(baseUrl: string): Promise<SseClient> {
    const c = new SseClient();
    return new Promise((resolve, reject) => {
      const req = request(new URL('api/events', baseUrl), { agent: false }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`SSE answered ${res.statusCode}`));
        res.setEncoding('utf8');
        let buf = '';
        res.on('data', (d: string) => {
          buf += d;
          for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
            c.#message(buf.slice(0, i));
            buf = buf.slice(i + 2);
          }
        });
        res.on('error', () => {});
        resolve(c);
      });
      req.on('error', reject);
      req.end();
      c.#req = req;
    });
  }

  #message(block: string): void {
    let event = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data += line.slice(6);
    }
    if (event === 'snapshot') this.snapshots.push(JSON.parse(data));
    else if (event === 'events') this.events.push(...JSON.parse(data));
  }

  get latest(): Snapshot | undefined {
    return this.snapshots[this.snapshots.length - 1];
  }

  close(): void {
    this.#req?.destroy();
  }
}

/** Every supervisor event of this thread, with a way to wait for one. */
export class EventRecorder {
  readonly events: SupervisorEvent[] = [];
  readonly #off: () => void;
  #waiters: { pred: (e: SupervisorEvent) => boolean; resolve: (e: SupervisorEvent) => void }[] = [];

  constructor() {
    this.#off = eventBus(currentNode()).on((e) => {
      this.events.push(e);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.pred(e)) return true;
        w.resolve(e);
        return false;
      });
    });
  }

  /** Resolves with the first event from now on that matches (bounded). */
  next(pred: (e: SupervisorEvent) => boolean, what: string, timeoutMs = 15_000): Promise<SupervisorEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
      this.#waiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  close(): void {
    this.#off();
  }
}

/** A node of a snapshot's tree by its key (`root/sub/b`). */
export function nodeAt(
  s: Snapshot | undefined,
  key: string,
): import('../src/index.js').TreeNodeView | undefined {
  const walk = (n: import('../src/index.js').TreeNodeView | null | undefined): any => {
    if (!n) return undefined;
    if (n.key === key) return n;
    for (const c of n.children ?? []) {
      const f = walk(c);
      if (f) return f;
    }
    return undefined;
  };
  return walk(s?.tree);
}
