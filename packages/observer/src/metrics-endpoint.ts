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
 * The supervisors' own restarts and intensity (metrics) and restarts (span events) are recorded by
 * @trellis/core itself, through the same global providers: the endpoint shows them with no wiring,
 * and they exist whether or not an observer runs (docs/observability.md).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

export interface MetricsOptions {
  /** A PrometheusExporter the app added to its own MeterProvider (served instead of the observer's). */
  readonly exporter?: PrometheusExporter | undefined;
}

export class MetricsEndpoint {
  readonly #exporter: PrometheusExporter;
  readonly #provider: MeterProvider | undefined;
  /** True when the observer's provider is the process's global one (it unregisters it on close). */
  readonly global: boolean;
  constructor(o: MetricsOptions) {
    if (o.exporter !== undefined) {
      this.#exporter = o.exporter;
      this.global = false;
    } else {
      this.#exporter = new PrometheusExporter({ preventServerStart: true });
      this.#provider = new MeterProvider({ readers: [this.#exporter] });
      this.global = metrics.setGlobalMeterProvider(this.#provider);
    }
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    this.#exporter.getMetricsRequestHandler(req, res);
  }

  async close(): Promise<void> {
    if (this.global) metrics.disable();
    await this.#provider?.shutdown();
  }
}
