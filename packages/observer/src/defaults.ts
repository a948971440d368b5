/** Every observer default in one place. */
export const OBSERVER_DEFAULTS = Object.freeze({
  /** The only interface the observer binds to: it serves control endpoints, so never a public one. */
  host: '127.0.0.1',
  /** 0: the OS picks a free port (printed at start-up). */
  port: 0,
  /** Pushes to the page are coalesced: at most one snapshot per this many ms. */
  coalesceMs: 100,
  /** Sources without change notification (registry, pools, health, leases) are re-read this often. */
  pollMs: 1000,
  /** Time-out of one whichChildren call while walking the tree; a busy supervisor keeps its last view. */
  callTimeoutMs: 2000,
  /** Time-out of a restart from the page (terminateChild waits for the child's shutdown). */
  controlTimeoutMs: 30_000,
  /** Time-out of one read of a pluggable source (a pool's stats(), a lease read). */
  sourceTimeoutMs: 2000,
  /** Deepest supervisor nesting walked (guards against a cycle of supervisors naming each other). */
  maxDepth: 32,
  /** Children shown per supervisor; a simple_one_for_one with more is summarised. */
  maxChildrenPerSupervisor: 500,
  /** Supervisor events kept for the page's log. */
  eventLogSize: 500,
  /** Events of not-yet-known supervisors held back until the tree walk finds them. */
  pendingEventsSize: 1000,
  /** Concurrent page connections (SSE streams). */
  maxClients: 32,
  /** SSE keep-alive comment interval, so proxies and the browser keep the stream open. */
  keepAliveMs: 15_000,
  /** Largest control request body accepted. */
  maxBodyBytes: 16 * 1024,
  /** Random bytes in a generated control token. */
  tokenBytes: 24,
  /** Shortest token accepted from the `token` option. */
  minTokenLength: 16,
  /** HTTP header that carries the control token (a form field `token` works too). */
  tokenHeader: 'x-trellis-token',
  /** `trellis status`: time-out of the HTTP request to a running observer. */
  statusTimeoutMs: 5000,
  /** Environment variable `trellis status` reads an observer URL from when `--url` is not given. */
  urlEnv: 'TRELLIS_OBSERVER_URL',
  /** File name prefix of the announce files a running observer writes into the Trellis home. */
  announcePrefix: 'observer-',
  /** Worker log records kept for the page's log tail and `trellis logs`. */
  logTailSize: 2000,
  /** Points of each pool's chart history (one per poll: 3 minutes at the default pollMs). */
  chartSamples: 180,
});
