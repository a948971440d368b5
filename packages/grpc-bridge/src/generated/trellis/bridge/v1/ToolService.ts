// Original file: protos/trellis/bridge/v1/tool_service.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { DescribeRequest as _trellis_bridge_v1_DescribeRequest, DescribeRequest__Output as _trellis_bridge_v1_DescribeRequest__Output } from '../../../trellis/bridge/v1/DescribeRequest.js';
import type { DescribeResponse as _trellis_bridge_v1_DescribeResponse, DescribeResponse__Output as _trellis_bridge_v1_DescribeResponse__Output } from '../../../trellis/bridge/v1/DescribeResponse.js';
import type { EndSessionRequest as _trellis_bridge_v1_EndSessionRequest, EndSessionRequest__Output as _trellis_bridge_v1_EndSessionRequest__Output } from '../../../trellis/bridge/v1/EndSessionRequest.js';
import type { EndSessionResponse as _trellis_bridge_v1_EndSessionResponse, EndSessionResponse__Output as _trellis_bridge_v1_EndSessionResponse__Output } from '../../../trellis/bridge/v1/EndSessionResponse.js';
import type { ExecuteRequest as _trellis_bridge_v1_ExecuteRequest, ExecuteRequest__Output as _trellis_bridge_v1_ExecuteRequest__Output } from '../../../trellis/bridge/v1/ExecuteRequest.js';
import type { ExecuteResponse as _trellis_bridge_v1_ExecuteResponse, ExecuteResponse__Output as _trellis_bridge_v1_ExecuteResponse__Output } from '../../../trellis/bridge/v1/ExecuteResponse.js';
import type { ExecuteStreamResponse as _trellis_bridge_v1_ExecuteStreamResponse, ExecuteStreamResponse__Output as _trellis_bridge_v1_ExecuteStreamResponse__Output } from '../../../trellis/bridge/v1/ExecuteStreamResponse.js';
import type { HealthRequest as _trellis_bridge_v1_HealthRequest, HealthRequest__Output as _trellis_bridge_v1_HealthRequest__Output } from '../../../trellis/bridge/v1/HealthRequest.js';
import type { HealthResponse as _trellis_bridge_v1_HealthResponse, HealthResponse__Output as _trellis_bridge_v1_HealthResponse__Output } from '../../../trellis/bridge/v1/HealthResponse.js';
import type { HeartbeatRequest as _trellis_bridge_v1_HeartbeatRequest, HeartbeatRequest__Output as _trellis_bridge_v1_HeartbeatRequest__Output } from '../../../trellis/bridge/v1/HeartbeatRequest.js';
import type { HeartbeatResponse as _trellis_bridge_v1_HeartbeatResponse, HeartbeatResponse__Output as _trellis_bridge_v1_HeartbeatResponse__Output } from '../../../trellis/bridge/v1/HeartbeatResponse.js';
import type { OpenLaneRequest as _trellis_bridge_v1_OpenLaneRequest, OpenLaneRequest__Output as _trellis_bridge_v1_OpenLaneRequest__Output } from '../../../trellis/bridge/v1/OpenLaneRequest.js';
import type { OpenLaneResponse as _trellis_bridge_v1_OpenLaneResponse, OpenLaneResponse__Output as _trellis_bridge_v1_OpenLaneResponse__Output } from '../../../trellis/bridge/v1/OpenLaneResponse.js';
import type { PingRequest as _trellis_bridge_v1_PingRequest, PingRequest__Output as _trellis_bridge_v1_PingRequest__Output } from '../../../trellis/bridge/v1/PingRequest.js';
import type { PingResponse as _trellis_bridge_v1_PingResponse, PingResponse__Output as _trellis_bridge_v1_PingResponse__Output } from '../../../trellis/bridge/v1/PingResponse.js';

export interface ToolServiceClient extends grpc.Client {
  /**
   * The tools this worker serves, with their parameter schemas.
   */
  Describe(argument: _trellis_bridge_v1_DescribeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  Describe(argument: _trellis_bridge_v1_DescribeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_trellis_bridge_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  Describe(argument: _trellis_bridge_v1_DescribeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  Describe(argument: _trellis_bridge_v1_DescribeRequest, callback: grpc.requestCallback<_trellis_bridge_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  /**
   * The tools this worker serves, with their parameter schemas.
   */
  describe(argument: _trellis_bridge_v1_DescribeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  describe(argument: _trellis_bridge_v1_DescribeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_trellis_bridge_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  describe(argument: _trellis_bridge_v1_DescribeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  describe(argument: _trellis_bridge_v1_DescribeRequest, callback: grpc.requestCallback<_trellis_bridge_v1_DescribeResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Drops the per-session state (ToolContext.session) kept for `session_id`.
   */
  EndSession(argument: _trellis_bridge_v1_EndSessionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_EndSessionResponse__Output>): grpc.ClientUnaryCall;
  EndSession(argument: _trellis_bridge_v1_EndSessionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_trellis_bridge_v1_EndSessionResponse__Output>): grpc.ClientUnaryCall;
  EndSession(argument: _trellis_bridge_v1_EndSessionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_EndSessionResponse__Output>): grpc.ClientUnaryCall;
  EndSession(argument: _trellis_bridge_v1_EndSessionRequest, callback: grpc.requestCallback<_trellis_bridge_v1_EndSessionResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Drops the per-session state (ToolContext.session) kept for `session_id`.
   */
  endSession(argument: _trellis_bridge_v1_EndSessionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_EndSessionResponse__Output>): grpc.ClientUnaryCall;
  endSession(argument: _trellis_bridge_v1_EndSessionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_trellis_bridge_v1_EndSessionResponse__Output>): grpc.ClientUnaryCall;
  endSession(argument: _trellis_bridge_v1_EndSessionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_EndSessionResponse__Output>): grpc.ClientUnaryCall;
  endSession(argument: _trellis_bridge_v1_EndSessionRequest, callback: grpc.requestCallback<_trellis_bridge_v1_EndSessionResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Runs one non-streaming tool and returns its result.
   */
  Execute(argument: _trellis_bridge_v1_ExecuteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_ExecuteResponse__Output>): grpc.ClientUnaryCall;
  Execute(argument: _trellis_bridge_v1_ExecuteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_trellis_bridge_v1_ExecuteResponse__Output>): grpc.ClientUnaryCall;
  Execute(argument: _trellis_bridge_v1_ExecuteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_ExecuteResponse__Output>): grpc.ClientUnaryCall;
  Execute(argument: _trellis_bridge_v1_ExecuteRequest, callback: grpc.requestCallback<_trellis_bridge_v1_ExecuteResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Runs one non-streaming tool and returns its result.
   */
  execute(argument: _trellis_bridge_v1_ExecuteRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_ExecuteResponse__Output>): grpc.ClientUnaryCall;
  execute(argument: _trellis_bridge_v1_ExecuteRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_trellis_bridge_v1_ExecuteResponse__Output>): grpc.ClientUnaryCall;
  execute(argument: _trellis_bridge_v1_ExecuteRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_ExecuteResponse__Output>): grpc.ClientUnaryCall;
  execute(argument: _trellis_bridge_v1_ExecuteRequest, callback: grpc.requestCallback<_trellis_bridge_v1_ExecuteResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Runs a tool and streams its items: one item per value a generator tool yields (a non-streaming
   * tool yields exactly one item). The stream ends with status OK after the last item, or with an
   * error status (and ErrorDetail) if the tool raises midway.
   */
  ExecuteStream(argument: _trellis_bridge_v1_ExecuteRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_trellis_bridge_v1_ExecuteStreamResponse__Output>;
  ExecuteStream(argument: _trellis_bridge_v1_ExecuteRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_trellis_bridge_v1_ExecuteStreamResponse__Output>;
  /**
   * Runs a tool and streams its items: one item per value a generator tool yields (a non-streaming
   * tool yields exactly one item). The stream ends with status OK after the last item, or with an
   * error status (and ErrorDetail) if the tool raises midway.
   */
  executeStream(argument: _trellis_bridge_v1_ExecuteRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_trellis_bridge_v1_ExecuteStreamResponse__Output>;
  executeStream(argument: _trellis_bridge_v1_ExecuteRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_trellis_bridge_v1_ExecuteStreamResponse__Output>;
  
  /**
   * Is the worker serving? Cheap; answered on the event loop even while every tool slot is busy.
   */
  Health(argument: _trellis_bridge_v1_HealthRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  Health(argument: _trellis_bridge_v1_HealthRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_trellis_bridge_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  Health(argument: _trellis_bridge_v1_HealthRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  Health(argument: _trellis_bridge_v1_HealthRequest, callback: grpc.requestCallback<_trellis_bridge_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Is the worker serving? Cheap; answered on the event loop even while every tool slot is busy.
   */
  health(argument: _trellis_bridge_v1_HealthRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  health(argument: _trellis_bridge_v1_HealthRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_trellis_bridge_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  health(argument: _trellis_bridge_v1_HealthRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  health(argument: _trellis_bridge_v1_HealthRequest, callback: grpc.requestCallback<_trellis_bridge_v1_HealthResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Host-to-worker liveness probe carrying the worker's own statistics.
   */
  Heartbeat(argument: _trellis_bridge_v1_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _trellis_bridge_v1_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_trellis_bridge_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _trellis_bridge_v1_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  Heartbeat(argument: _trellis_bridge_v1_HeartbeatRequest, callback: grpc.requestCallback<_trellis_bridge_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Host-to-worker liveness probe carrying the worker's own statistics.
   */
  heartbeat(argument: _trellis_bridge_v1_HeartbeatRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _trellis_bridge_v1_HeartbeatRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_trellis_bridge_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _trellis_bridge_v1_HeartbeatRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  heartbeat(argument: _trellis_bridge_v1_HeartbeatRequest, callback: grpc.requestCallback<_trellis_bridge_v1_HeartbeatResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Where and how to connect to the worker's call lane (lane.proto): a framed Unix socket carrying
   * many calls at once. UNIMPLEMENTED from a worker without one.
   */
  OpenLane(argument: _trellis_bridge_v1_OpenLaneRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_OpenLaneResponse__Output>): grpc.ClientUnaryCall;
  OpenLane(argument: _trellis_bridge_v1_OpenLaneRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_trellis_bridge_v1_OpenLaneResponse__Output>): grpc.ClientUnaryCall;
  OpenLane(argument: _trellis_bridge_v1_OpenLaneRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_OpenLaneResponse__Output>): grpc.ClientUnaryCall;
  OpenLane(argument: _trellis_bridge_v1_OpenLaneRequest, callback: grpc.requestCallback<_trellis_bridge_v1_OpenLaneResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Where and how to connect to the worker's call lane (lane.proto): a framed Unix socket carrying
   * many calls at once. UNIMPLEMENTED from a worker without one.
   */
  openLane(argument: _trellis_bridge_v1_OpenLaneRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_OpenLaneResponse__Output>): grpc.ClientUnaryCall;
  openLane(argument: _trellis_bridge_v1_OpenLaneRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_trellis_bridge_v1_OpenLaneResponse__Output>): grpc.ClientUnaryCall;
  openLane(argument: _trellis_bridge_v1_OpenLaneRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_OpenLaneResponse__Output>): grpc.ClientUnaryCall;
  openLane(argument: _trellis_bridge_v1_OpenLaneRequest, callback: grpc.requestCallback<_trellis_bridge_v1_OpenLaneResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Echoes `data` back untouched: the raw gRPC round trip, used as the benchmark baseline.
   */
  Ping(argument: _trellis_bridge_v1_PingRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_PingResponse__Output>): grpc.ClientUnaryCall;
  Ping(argument: _trellis_bridge_v1_PingRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_trellis_bridge_v1_PingResponse__Output>): grpc.ClientUnaryCall;
  Ping(argument: _trellis_bridge_v1_PingRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_PingResponse__Output>): grpc.ClientUnaryCall;
  Ping(argument: _trellis_bridge_v1_PingRequest, callback: grpc.requestCallback<_trellis_bridge_v1_PingResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Echoes `data` back untouched: the raw gRPC round trip, used as the benchmark baseline.
   */
  ping(argument: _trellis_bridge_v1_PingRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_PingResponse__Output>): grpc.ClientUnaryCall;
  ping(argument: _trellis_bridge_v1_PingRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_trellis_bridge_v1_PingResponse__Output>): grpc.ClientUnaryCall;
  ping(argument: _trellis_bridge_v1_PingRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_PingResponse__Output>): grpc.ClientUnaryCall;
  ping(argument: _trellis_bridge_v1_PingRequest, callback: grpc.requestCallback<_trellis_bridge_v1_PingResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface ToolServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * The tools this worker serves, with their parameter schemas.
   */
  Describe: grpc.handleUnaryCall<_trellis_bridge_v1_DescribeRequest__Output, _trellis_bridge_v1_DescribeResponse>;
  
  /**
   * Drops the per-session state (ToolContext.session) kept for `session_id`.
   */
  EndSession: grpc.handleUnaryCall<_trellis_bridge_v1_EndSessionRequest__Output, _trellis_bridge_v1_EndSessionResponse>;
  
  /**
   * Runs one non-streaming tool and returns its result.
   */
  Execute: grpc.handleUnaryCall<_trellis_bridge_v1_ExecuteRequest__Output, _trellis_bridge_v1_ExecuteResponse>;
  
  /**
   * Runs a tool and streams its items: one item per value a generator tool yields (a non-streaming
   * tool yields exactly one item). The stream ends with status OK after the last item, or with an
   * error status (and ErrorDetail) if the tool raises midway.
   */
  ExecuteStream: grpc.handleServerStreamingCall<_trellis_bridge_v1_ExecuteRequest__Output, _trellis_bridge_v1_ExecuteStreamResponse>;
  
  /**
   * Is the worker serving? Cheap; answered on the event loop even while every tool slot is busy.
   */
  Health: grpc.handleUnaryCall<_trellis_bridge_v1_HealthRequest__Output, _trellis_bridge_v1_HealthResponse>;
  
  /**
   * Host-to-worker liveness probe carrying the worker's own statistics.
   */
  Heartbeat: grpc.handleUnaryCall<_trellis_bridge_v1_HeartbeatRequest__Output, _trellis_bridge_v1_HeartbeatResponse>;
  
  /**
   * Where and how to connect to the worker's call lane (lane.proto): a framed Unix socket carrying
   * many calls at once. UNIMPLEMENTED from a worker without one.
   */
  OpenLane: grpc.handleUnaryCall<_trellis_bridge_v1_OpenLaneRequest__Output, _trellis_bridge_v1_OpenLaneResponse>;
  
  /**
   * Echoes `data` back untouched: the raw gRPC round trip, used as the benchmark baseline.
   */
  Ping: grpc.handleUnaryCall<_trellis_bridge_v1_PingRequest__Output, _trellis_bridge_v1_PingResponse>;
  
}

export interface ToolServiceDefinition extends grpc.ServiceDefinition {
  Describe: MethodDefinition<_trellis_bridge_v1_DescribeRequest, _trellis_bridge_v1_DescribeResponse, _trellis_bridge_v1_DescribeRequest__Output, _trellis_bridge_v1_DescribeResponse__Output>
  EndSession: MethodDefinition<_trellis_bridge_v1_EndSessionRequest, _trellis_bridge_v1_EndSessionResponse, _trellis_bridge_v1_EndSessionRequest__Output, _trellis_bridge_v1_EndSessionResponse__Output>
  Execute: MethodDefinition<_trellis_bridge_v1_ExecuteRequest, _trellis_bridge_v1_ExecuteResponse, _trellis_bridge_v1_ExecuteRequest__Output, _trellis_bridge_v1_ExecuteResponse__Output>
  ExecuteStream: MethodDefinition<_trellis_bridge_v1_ExecuteRequest, _trellis_bridge_v1_ExecuteStreamResponse, _trellis_bridge_v1_ExecuteRequest__Output, _trellis_bridge_v1_ExecuteStreamResponse__Output>
  Health: MethodDefinition<_trellis_bridge_v1_HealthRequest, _trellis_bridge_v1_HealthResponse, _trellis_bridge_v1_HealthRequest__Output, _trellis_bridge_v1_HealthResponse__Output>
  Heartbeat: MethodDefinition<_trellis_bridge_v1_HeartbeatRequest, _trellis_bridge_v1_HeartbeatResponse, _trellis_bridge_v1_HeartbeatRequest__Output, _trellis_bridge_v1_HeartbeatResponse__Output>
  OpenLane: MethodDefinition<_trellis_bridge_v1_OpenLaneRequest, _trellis_bridge_v1_OpenLaneResponse, _trellis_bridge_v1_OpenLaneRequest__Output, _trellis_bridge_v1_OpenLaneResponse__Output>
  Ping: MethodDefinition<_trellis_bridge_v1_PingRequest, _trellis_bridge_v1_PingResponse, _trellis_bridge_v1_PingRequest__Output, _trellis_bridge_v1_PingResponse__Output>
}
