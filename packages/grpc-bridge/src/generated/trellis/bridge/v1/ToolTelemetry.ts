// Original file: protos/trellis/bridge/v1/tool_service.proto

import type { ToolMetric as _trellis_bridge_v1_ToolMetric, ToolMetric__Output as _trellis_bridge_v1_ToolMetric__Output } from '../../../trellis/bridge/v1/ToolMetric.js';
import type { ToolSpan as _trellis_bridge_v1_ToolSpan, ToolSpan__Output as _trellis_bridge_v1_ToolSpan__Output } from '../../../trellis/bridge/v1/ToolSpan.js';

/**
 * Telemetry a tool recorded during its call (ctx.metric, ctx.span), carried back with the result
 * so the host records it with its own OpenTelemetry meter and tracer, under the call's span.
 */
export interface ToolTelemetry {
  'metrics'?: (_trellis_bridge_v1_ToolMetric)[];
  'spans'?: (_trellis_bridge_v1_ToolSpan)[];
}

/**
 * Telemetry a tool recorded during its call (ctx.metric, ctx.span), carried back with the result
 * so the host records it with its own OpenTelemetry meter and tracer, under the call's span.
 */
export interface ToolTelemetry__Output {
  'metrics': (_trellis_bridge_v1_ToolMetric__Output)[];
  'spans': (_trellis_bridge_v1_ToolSpan__Output)[];
}
