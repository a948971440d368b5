/**
 * `GET /metrics`: the Prometheus exposition of everything recorded through OpenTelemetry's metrics
 * API in this process (the gRPC bridge's pool metrics, the metrics Python tools send with
 * `ctx.metric`, the app's own), written by OpenTelemetry's Prometheus exporter, never by hand.
 *
 * The library packages only use `@opentelemetry/api`; somebody has to provide the SDK's
 * MeterProvider, and the observer is the operator-facing process part that serves the endpoint, so
 * it does: it registers a MeterProvider with the Prometheus exporter as its reader as the global
 * one. When the app registered its own provider first, that one stays (the API accepts one global
 * provider): the endpoint then shows the observer's own instruments only, unless the app passes the
 * PrometheusExporter it added to its provider (`metrics: { exporter }`).
 *
 * Its own instruments, per supervisor of the observed tree (from the supervisor events):
 *   trellis.supervisor.restarts   counter  supervisor, child: restarts the supervisor performed
 *   trellis.supervisor.intensity  gauge    supervisor: restarts within its period / its intensity
 *                                          (1 means the next crash makes it give up)
 *
 * And each restart as a trace (tracer `@trellis/observer`, through the API: exported wherever the
 * app's TracerProvider sends spans): a span `supervisor restart` from the child's exit to its
 * restart, with the span events `child_exited` (the reason) and `child_restarted` (old and new pid,
 * the restart count), and `intensity_reached` when the supervisor gives up.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Counter, metrics, trace } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { formatReason, type SupervisorEvent } from '@trellis/core';

const tracer = trace.getTracer('@trellis/observer');

export interface MetricsOptions {
  /** A PrometheusExporter the app added to its own MeterProvider (served instead of the observer's). */
  readonly exporter?: PrometheusExporter | undefined;
}

interface SupervisorRestarts {
  readonly name: string;
  intensity: number | undefined;
  periodMs: number | undefined;
  readonly times: number[];
}

export class MetricsEndpoint {
  readonly #exporter: PrometheusExporter;
  readonly #provider: MeterProvider | undefined;
  /** True when the observer's provider is the process's global one (it unregisters it on close). */
  readonly global: boolean;
  readonly #restarts: Counter;
  readonly #sups = new Map<string, SupervisorRestarts>();
  /** The last exit of each child (`<supervisor> <id>`), until its restart makes a span of it. */
  readonly #exits = new Map<string, { at: number; reason: string; pid: string }>();

  constructor(o: MetricsOptions, now: () => number) {
    if (o.exporter !== undefined) {
      this.#exporter = o.exporter;
      this.global = false;
    } else {
      this.#exporter = new PrometheusExporter({ preventServerStart: true });
      this.#provider = new MeterProvider({ readers: [this.#exporter] });
      this.global = metrics.setGlobalMeterProvider(this.#provider);
    }
    const meter = (this.#provider ?? metrics.getMeterProvider()).getMeter('@trellis/observer');
    this.#restarts = meter.createCounter('trellis.supervisor.restarts', {
      description: 'Children restarted by a supervisor of the observed tree',
    });
    const intensity = meter.createObservableGauge('trellis.supervisor.intensity', {
      description: 'Restarts within the supervisor period over its intensity (1: the next crash gives up)',
    });
    intensity.addCallback((r) => {
      const t = now();
      for (const [pid, s] of this.#sups) {
        if (s.intensity === undefined || s.periodMs === undefined || s.intensity <= 0) continue;
        const recent = s.times.filter((x) => t - x <= s.periodMs!).length;
        r.observe(recent / s.intensity, { supervisor: s.name, 'supervisor.pid': pid });
      }
    });
  }

  onEvent(e: SupervisorEvent): void {
    const key = String(e.supervisor);
    let s = this.#sups.get(key);
    if (s === undefined) {
      if (this.#sups.size >= 10_000) return;
      s = { name: e.supervisorName ?? key, intensity: undefined, periodMs: undefined, times: [] };
      this.#sups.set(key, s);
    }
    if (e.type === 'supervisor_started') {
      s.intensity = e.intensity;
      s.periodMs = e.periodMs;
    } else if (e.type === 'child_exited') {
      if (this.#exits.size < 10_000)
        this.#exits.set(`${key} ${e.id}`, { at: e.at, reason: formatReason(e.reason), pid: String(e.pid) });
    } else if (e.type === 'intensity_reached') {
      const span = tracer.startSpan('supervisor gives up', {
        startTime: e.at,
        attributes: { 'trellis.supervisor': s.name, 'trellis.supervisor.pid': key },
      });
      span.addEvent('intensity_reached', { intensity: e.intensity, period_ms: e.periodMs }, e.at);
      span.end(e.at);
    } else if (e.type === 'child_restarted') {
      this.#restarts.add(1, { supervisor: s.name, child: e.id });
      const exit = this.#exits.get(`${key} ${e.id}`);
      this.#exits.delete(`${key} ${e.id}`);
      const span = tracer.startSpan('supervisor restart', {
        startTime: exit?.at ?? e.at,
        attributes: {
          'trellis.supervisor': s.name,
          'trellis.supervisor.pid': key,
          'trellis.child': e.id,
          'trellis.restarts': e.restarts,
        },
      });
      if (exit !== undefined) span.addEvent('child_exited', { pid: exit.pid, reason: exit.reason }, exit.at);
      span.addEvent(
        'child_restarted',
        { pid: String(e.pid), old_pid: String(e.oldPid ?? ''), restarts: e.restarts },
        e.at,
      );
      span.end(e.at);
      s.times.push(e.at);
      const keep = s.periodMs ?? 60_000;
      while (s.times.length > 0 && e.at - s.times[0]! > keep) s.times.shift();
      if (s.times.length > 1000) s.times.splice(0, s.times.length - 1000);
    } else if (e.type === 'supervisor_shutdown') this.#sups.delete(key);
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    this.#exporter.getMetricsRequestHandler(req, res);
  }

  async close(): Promise<void> {
    if (this.global) metrics.disable();
    await this.#provider?.shutdown();
  }
}
