/**
 * The workers' log tail: the records of every pool source with `onLog` (a gRPC ToolPool's Python
 * logging, other stderr lines, the pool's lifecycle), numbered and kept in a bounded ring, so the
 * page can show one worker's tail and `trellis logs` can follow them (`GET /api/logs?since=N`).
 */

/** A record as the page and `trellis logs` get it. */
export interface LogRecordView {
  readonly seq: number;
  readonly at: number;
  /** The pool's name in the observer (its key in `pools`). */
  readonly pool: string;
  readonly worker: number | null;
  readonly workerPid: number | null;
  readonly level: string;
  readonly msg: string;
  readonly source: string;
  readonly logger: string | null;
  readonly tool: string | null;
  readonly callId: string | null;
  readonly traceback: string | null;
}

/** The fields a pool source may leave out; the view fills them in (`add`: null, or a default). */
type LeftOut = 'pool' | 'worker' | 'workerPid' | 'source' | 'logger' | 'tool' | 'callId' | 'traceback';

/**
 * One record as a pool source hands it over (a ToolPool's `WorkerLogRecord` fits): the view's record
 * before the tail numbers it, with the fields it may leave out optional.
 */
export type PoolLogRecordInput = Omit<LogRecordView, 'seq' | LeftOut> & {
  readonly [K in LeftOut]?: NonNullable<LogRecordView[K]> | undefined;
};

export interface LogQuery {
  readonly since?: number | undefined;
  readonly pool?: string | undefined;
  readonly worker?: number | undefined;
  readonly limit?: number | undefined;
}

/** Longest message kept (a runaway line must not fill the ring's memory). */
const MAX_MSG = 4096;

export class LogTail {
  readonly #ring: LogRecordView[] = [];
  #seq = 0;

  constructor(readonly size: number) {}

  get lastSeq(): number {
    return this.#seq;
  }

  add(pool: string, r: PoolLogRecordInput): LogRecordView {
    const msg = typeof r.msg === 'string' ? r.msg : String(r.msg);
    const v: LogRecordView = {
      seq: ++this.#seq,
      at: typeof r.at === 'number' ? r.at : Date.now(),
      pool,
      worker: typeof r.worker === 'number' ? r.worker : null,
      workerPid: typeof r.workerPid === 'number' ? r.workerPid : null,
      level: String(r.level),
      msg: msg.length > MAX_MSG ? `${msg.slice(0, MAX_MSG - 1)}…` : msg,
      source: r.source ?? 'log',
      logger: r.logger ?? null,
      tool: r.tool ?? null,
      callId: r.callId ?? null,
      traceback: r.traceback ? r.traceback.slice(-MAX_MSG) : null,
    };
    this.#ring.push(v);
    if (this.#ring.length > this.size) this.#ring.splice(0, this.#ring.length - this.size);
    return v;
  }

  /** Records after `since`, oldest first, filtered, at most `limit` (the newest ones). */
  query(q: LogQuery): LogRecordView[] {
    const since = q.since ?? 0;
    const out = this.#ring.filter(
      (r) =>
        r.seq > since &&
        (q.pool === undefined || r.pool === q.pool) &&
        (q.worker === undefined || r.worker === q.worker),
    );
    const limit = q.limit ?? this.size;
    return out.length > limit ? out.slice(out.length - limit) : out;
  }
}
