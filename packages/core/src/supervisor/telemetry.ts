/**
 * Supervisor restarts as OpenTelemetry data, from core itself, whether or not an observer runs
 * (docs/observability.md). Through `@opentelemetry/api` only: the app chooses the SDK and the
 * exporters; with none registered every call below is the API's no-op.
 *
 * Traces (tracer `@trellis/core`). A restart is recorded as span events, following the semantic
 * conventions (namespaced event and attribute names, the `exception.*` attributes for an error):
 *   - on the span active where the supervisor restarts the child, when there is one that records;
 *   - else on a span of its own, `supervisor restart` (kind INTERNAL), from the child's exit to its
 *     restart, so that a restart is never lost for want of a surrounding span.
 *   Events: `trellis.supervisor.child_exited` (at the exit), `trellis.supervisor.child_restarted`,
 *   and `trellis.supervisor.intensity_reached` (on a span `supervisor gives up` when none is active).
 * Metrics (meter `@trellis/core`), per supervisor of the tree:
 *   trellis.supervisor.restarts   counter  supervisor, child: restarts the supervisor performed
 *   trellis.supervisor.intensity  gauge    supervisor, supervisor.pid: restarts within its period over
 *                                          its intensity (1: the next crash makes it give up)
 *
 * Why the API is loaded lazily (createRequire at the first child exit): this module is part of the
 * thread runtime (dist/bundle/actor.js), and every module a new thread loads delays its first actor;
 * a tree that never restarts anything never loads the API. The API keeps its globals (providers) on a
 * process-wide symbol, so this CommonJS copy sees the providers the app registered through ESM.
 */
import { createRequire } from 'node:module';
import type * as Otel from '@opentelemetry/api';
import type { SupervisorEvent } from '../events.js';
import { type ExitReason, formatReason } from '../exit-reason.js';
import type { Pid } from '../pid.js';

type Api = typeof Otel;
let api: Api | undefined | null;

function loadApi(): Api | undefined {
  if (api === undefined) {
    try {
      api = createRequire(import.meta.url)('@opentelemetry/api') as Api;
    } catch {
      api = null; // not installed next to core (a bundled app): no telemetry, never a failure
    }
  }
  return api ?? undefined;
}

/** A live supervisor, for the intensity gauge. */
interface Watched {
  readonly name: string;
  readonly pid: Pid;
  /** Restarts within the period over the intensity. */
  ratio(): number;
  alive(): boolean;
}

const supervisors = new Map<Pid, Watched>();
/** The last exit of each child (`<supervisor> <id>`), until its restart (bounded). */
const exits = new Map<string, { at: number; pid: Pid; reason: ExitReason }>();

interface Instruments {
  readonly provider: Otel.MeterProvider;
  readonly restarts: Otel.Counter;
}
let instruments: Instruments | undefined;

/**
 * The instruments of the current global MeterProvider. The API's global MeterProvider is not a proxy
 * (unlike the TracerProvider): a provider registered later gets instruments made anew, or the
 * supervisors' metrics would stay on the no-op provider forever.
 */
function meterInstruments(a: Api): Instruments {
  const provider = a.metrics.getMeterProvider();
  if (instruments?.provider === provider) return instruments;
  const meter = provider.getMeter('@trellis/core');
  const restarts = meter.createCounter('trellis.supervisor.restarts', {
    description: 'Children restarted by a supervisor',
  });
  meter
    .createObservableGauge('trellis.supervisor.intensity', {
      description: 'Restarts within the supervisor period over its intensity (1: the next crash gives up)',
    })
    .addCallback((r) => {
      for (const [pid, s] of supervisors) {
        if (!s.alive()) {
          supervisors.delete(pid);
          continue;
        }
        r.observe(s.ratio(), { supervisor: s.name, 'supervisor.pid': String(pid) });
      }
    });
  instruments = { provider, restarts };
  return instruments;
}

/** The attributes of an exit reason: its text, and for an error the semantic conventions' exception.*. */
function reasonAttributes(reason: ExitReason): Otel.Attributes {
  const out: Otel.Attributes = { 'trellis.exit.reason': formatReason(reason) };
  if (reason.type === 'error') {
    const c = reason.cause as { name?: unknown; message?: unknown; code?: unknown } | undefined;
    out['exception.type'] = typeof c?.name === 'string' ? c.name : 'Error';
    out['exception.message'] = typeof c?.message === 'string' ? c.message : String(reason.cause);
    if (typeof c?.code === 'string') out['trellis.error.code'] = c.code;
  }
  return out;
}

/** The span active here, if it still records (an ended span or the API's no-op one does not). */
function activeSpan(a: Api): Otel.Span | undefined {
  const s = a.trace.getActiveSpan();
  return s?.isRecording() ? s : undefined;
}

export interface SupervisorTelemetrySource {
  readonly self: Pid;
  readonly name: string | undefined;
  readonly intensity: { count(now: number): number };
  readonly flags: { readonly intensity: number };
  now(): number;
  alive(): boolean;
}

type Ev = SupervisorEvent extends infer E
  ? E extends unknown
    ? Omit<E, 'supervisor' | 'supervisorName' | 'at'>
    : never
  : never;

/** Records one supervisor event (called by the supervisor for each event it emits). */
export function supervisorTelemetry(st: SupervisorTelemetrySource, e: Ev, at: number): void {
  const name = st.name ?? String(st.self);
  switch (e.type) {
    case 'supervisor_started':
      if (supervisors.size < 100_000)
        supervisors.set(st.self, {
          name,
          pid: st.self,
          ratio: () => (st.flags.intensity > 0 ? st.intensity.count(st.now()) / st.flags.intensity : 0),
          alive: st.alive,
        });
      return;
    case 'supervisor_shutdown':
      supervisors.delete(st.self);
      return;
    case 'child_exited':
      if (exits.size >= 10_000) exits.delete(exits.keys().next().value as string);
      exits.set(`${st.self} ${e.id}`, { at, pid: e.pid, reason: e.reason });
      loadApi();
      return;
    case 'child_restarted': {
      const a = loadApi();
      const key = `${st.self} ${e.id}`;
      const exit = exits.get(key);
      exits.delete(key);
      if (a === undefined) return;
      const common: Otel.Attributes = {
        'trellis.supervisor.name': name,
        'trellis.supervisor.pid': String(st.self),
        'trellis.child.id': e.id,
      };
      meterInstruments(a).restarts.add(1, { supervisor: name, child: e.id });
      const onActive = activeSpan(a);
      const span =
        onActive ??
        a.trace.getTracer('@trellis/core').startSpan('supervisor restart', {
          kind: a.SpanKind.INTERNAL,
          startTime: exit?.at ?? at,
          attributes: { ...common, 'trellis.restart.count': e.restarts },
        });
      if (exit !== undefined)
        span.addEvent(
          'trellis.supervisor.child_exited',
          { ...common, 'trellis.child.pid': String(exit.pid), ...reasonAttributes(exit.reason) },
          exit.at,
        );
      span.addEvent(
        'trellis.supervisor.child_restarted',
        {
          ...common,
          'trellis.child.pid': String(e.pid),
          'trellis.child.old_pid': String(e.oldPid ?? ''),
          'trellis.restart.count': e.restarts,
        },
        at,
      );
      if (onActive === undefined) span.end(at);
      return;
    }
    case 'intensity_reached': {
      const a = loadApi();
      if (a === undefined) return;
      const attrs: Otel.Attributes = {
        'trellis.supervisor.name': name,
        'trellis.supervisor.pid': String(st.self),
        'trellis.supervisor.intensity': e.intensity,
        'trellis.supervisor.period_ms': e.periodMs,
      };
      const onActive = activeSpan(a);
      const span =
        onActive ??
        a.trace.getTracer('@trellis/core').startSpan('supervisor gives up', {
          kind: a.SpanKind.INTERNAL,
          startTime: at,
          attributes: attrs,
        });
      span.addEvent('trellis.supervisor.intensity_reached', attrs, at);
      if (onActive === undefined) span.end(at);
      return;
    }
    default:
      return;
  }
}
