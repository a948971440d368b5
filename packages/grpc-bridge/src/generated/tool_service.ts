import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { DescribeRequest as _trellis_bridge_v1_DescribeRequest, DescribeRequest__Output as _trellis_bridge_v1_DescribeRequest__Output } from './trellis/bridge/v1/DescribeRequest.js';
import type { DescribeResponse as _trellis_bridge_v1_DescribeResponse, DescribeResponse__Output as _trellis_bridge_v1_DescribeResponse__Output } from './trellis/bridge/v1/DescribeResponse.js';
import type { EndSessionRequest as _trellis_bridge_v1_EndSessionRequest, EndSessionRequest__Output as _trellis_bridge_v1_EndSessionRequest__Output } from './trellis/bridge/v1/EndSessionRequest.js';
import type { EndSessionResponse as _trellis_bridge_v1_EndSessionResponse, EndSessionResponse__Output as _trellis_bridge_v1_EndSessionResponse__Output } from './trellis/bridge/v1/EndSessionResponse.js';
import type { ErrorDetail as _trellis_bridge_v1_ErrorDetail, ErrorDetail__Output as _trellis_bridge_v1_ErrorDetail__Output } from './trellis/bridge/v1/ErrorDetail.js';
import type { ExecuteRequest as _trellis_bridge_v1_ExecuteRequest, ExecuteRequest__Output as _trellis_bridge_v1_ExecuteRequest__Output } from './trellis/bridge/v1/ExecuteRequest.js';
import type { ExecuteResponse as _trellis_bridge_v1_ExecuteResponse, ExecuteResponse__Output as _trellis_bridge_v1_ExecuteResponse__Output } from './trellis/bridge/v1/ExecuteResponse.js';
import type { ExecuteStreamResponse as _trellis_bridge_v1_ExecuteStreamResponse, ExecuteStreamResponse__Output as _trellis_bridge_v1_ExecuteStreamResponse__Output } from './trellis/bridge/v1/ExecuteStreamResponse.js';
import type { HealthRequest as _trellis_bridge_v1_HealthRequest, HealthRequest__Output as _trellis_bridge_v1_HealthRequest__Output } from './trellis/bridge/v1/HealthRequest.js';
import type { HealthResponse as _trellis_bridge_v1_HealthResponse, HealthResponse__Output as _trellis_bridge_v1_HealthResponse__Output } from './trellis/bridge/v1/HealthResponse.js';
import type { HeartbeatRequest as _trellis_bridge_v1_HeartbeatRequest, HeartbeatRequest__Output as _trellis_bridge_v1_HeartbeatRequest__Output } from './trellis/bridge/v1/HeartbeatRequest.js';
import type { HeartbeatResponse as _trellis_bridge_v1_HeartbeatResponse, HeartbeatResponse__Output as _trellis_bridge_v1_HeartbeatResponse__Output } from './trellis/bridge/v1/HeartbeatResponse.js';
import type { OpenLaneRequest as _trellis_bridge_v1_OpenLaneRequest, OpenLaneRequest__Output as _trellis_bridge_v1_OpenLaneRequest__Output } from './trellis/bridge/v1/OpenLaneRequest.js';
import type { OpenLaneResponse as _trellis_bridge_v1_OpenLaneResponse, OpenLaneResponse__Output as _trellis_bridge_v1_OpenLaneResponse__Output } from './trellis/bridge/v1/OpenLaneResponse.js';
import type { Payload as _trellis_bridge_v1_Payload, Payload__Output as _trellis_bridge_v1_Payload__Output } from './trellis/bridge/v1/Payload.js';
import type { PingRequest as _trellis_bridge_v1_PingRequest, PingRequest__Output as _trellis_bridge_v1_PingRequest__Output } from './trellis/bridge/v1/PingRequest.js';
import type { PingResponse as _trellis_bridge_v1_PingResponse, PingResponse__Output as _trellis_bridge_v1_PingResponse__Output } from './trellis/bridge/v1/PingResponse.js';
import type { SharedSegment as _trellis_bridge_v1_SharedSegment, SharedSegment__Output as _trellis_bridge_v1_SharedSegment__Output } from './trellis/bridge/v1/SharedSegment.js';
import type { ToolInfo as _trellis_bridge_v1_ToolInfo, ToolInfo__Output as _trellis_bridge_v1_ToolInfo__Output } from './trellis/bridge/v1/ToolInfo.js';
import type { ToolMetric as _trellis_bridge_v1_ToolMetric, ToolMetric__Output as _trellis_bridge_v1_ToolMetric__Output } from './trellis/bridge/v1/ToolMetric.js';
import type { ToolServiceClient as _trellis_bridge_v1_ToolServiceClient, ToolServiceDefinition as _trellis_bridge_v1_ToolServiceDefinition } from './trellis/bridge/v1/ToolService.js';
import type { ToolSpan as _trellis_bridge_v1_ToolSpan, ToolSpan__Output as _trellis_bridge_v1_ToolSpan__Output } from './trellis/bridge/v1/ToolSpan.js';
import type { ToolTelemetry as _trellis_bridge_v1_ToolTelemetry, ToolTelemetry__Output as _trellis_bridge_v1_ToolTelemetry__Output } from './trellis/bridge/v1/ToolTelemetry.js';
import type { WorkerStats as _trellis_bridge_v1_WorkerStats, WorkerStats__Output as _trellis_bridge_v1_WorkerStats__Output } from './trellis/bridge/v1/WorkerStats.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  trellis: {
    bridge: {
      v1: {
        DescribeRequest: MessageTypeDefinition<_trellis_bridge_v1_DescribeRequest, _trellis_bridge_v1_DescribeRequest__Output>
        DescribeResponse: MessageTypeDefinition<_trellis_bridge_v1_DescribeResponse, _trellis_bridge_v1_DescribeResponse__Output>
        EndSessionRequest: MessageTypeDefinition<_trellis_bridge_v1_EndSessionRequest, _trellis_bridge_v1_EndSessionRequest__Output>
        EndSessionResponse: MessageTypeDefinition<_trellis_bridge_v1_EndSessionResponse, _trellis_bridge_v1_EndSessionResponse__Output>
        ErrorDetail: MessageTypeDefinition<_trellis_bridge_v1_ErrorDetail, _trellis_bridge_v1_ErrorDetail__Output>
        ExecuteRequest: MessageTypeDefinition<_trellis_bridge_v1_ExecuteRequest, _trellis_bridge_v1_ExecuteRequest__Output>
        ExecuteResponse: MessageTypeDefinition<_trellis_bridge_v1_ExecuteResponse, _trellis_bridge_v1_ExecuteResponse__Output>
        ExecuteStreamResponse: MessageTypeDefinition<_trellis_bridge_v1_ExecuteStreamResponse, _trellis_bridge_v1_ExecuteStreamResponse__Output>
        HealthRequest: MessageTypeDefinition<_trellis_bridge_v1_HealthRequest, _trellis_bridge_v1_HealthRequest__Output>
        HealthResponse: MessageTypeDefinition<_trellis_bridge_v1_HealthResponse, _trellis_bridge_v1_HealthResponse__Output>
        HeartbeatRequest: MessageTypeDefinition<_trellis_bridge_v1_HeartbeatRequest, _trellis_bridge_v1_HeartbeatRequest__Output>
        HeartbeatResponse: MessageTypeDefinition<_trellis_bridge_v1_HeartbeatResponse, _trellis_bridge_v1_HeartbeatResponse__Output>
        OpenLaneRequest: MessageTypeDefinition<_trellis_bridge_v1_OpenLaneRequest, _trellis_bridge_v1_OpenLaneRequest__Output>
        OpenLaneResponse: MessageTypeDefinition<_trellis_bridge_v1_OpenLaneResponse, _trellis_bridge_v1_OpenLaneResponse__Output>
        Payload: MessageTypeDefinition<_trellis_bridge_v1_Payload, _trellis_bridge_v1_Payload__Output>
        PingRequest: MessageTypeDefinition<_trellis_bridge_v1_PingRequest, _trellis_bridge_v1_PingRequest__Output>
        PingResponse: MessageTypeDefinition<_trellis_bridge_v1_PingResponse, _trellis_bridge_v1_PingResponse__Output>
        SharedSegment: MessageTypeDefinition<_trellis_bridge_v1_SharedSegment, _trellis_bridge_v1_SharedSegment__Output>
        ToolInfo: MessageTypeDefinition<_trellis_bridge_v1_ToolInfo, _trellis_bridge_v1_ToolInfo__Output>
        ToolMetric: MessageTypeDefinition<_trellis_bridge_v1_ToolMetric, _trellis_bridge_v1_ToolMetric__Output>
        ToolService: SubtypeConstructor<typeof grpc.Client, _trellis_bridge_v1_ToolServiceClient> & { service: _trellis_bridge_v1_ToolServiceDefinition }
        ToolSpan: MessageTypeDefinition<_trellis_bridge_v1_ToolSpan, _trellis_bridge_v1_ToolSpan__Output>
        ToolTelemetry: MessageTypeDefinition<_trellis_bridge_v1_ToolTelemetry, _trellis_bridge_v1_ToolTelemetry__Output>
        WorkerStats: MessageTypeDefinition<_trellis_bridge_v1_WorkerStats, _trellis_bridge_v1_WorkerStats__Output>
      }
    }
  }
}

