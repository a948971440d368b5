// Original file: protos/trellis/bridge/v1/host_service.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { CallHostToolRequest as _trellis_bridge_v1_CallHostToolRequest, CallHostToolRequest__Output as _trellis_bridge_v1_CallHostToolRequest__Output } from '../../../trellis/bridge/v1/CallHostToolRequest.js';
import type { CallHostToolResponse as _trellis_bridge_v1_CallHostToolResponse, CallHostToolResponse__Output as _trellis_bridge_v1_CallHostToolResponse__Output } from '../../../trellis/bridge/v1/CallHostToolResponse.js';
import type { LogRequest as _trellis_bridge_v1_LogRequest, LogRequest__Output as _trellis_bridge_v1_LogRequest__Output } from '../../../trellis/bridge/v1/LogRequest.js';
import type { LogResponse as _trellis_bridge_v1_LogResponse, LogResponse__Output as _trellis_bridge_v1_LogResponse__Output } from '../../../trellis/bridge/v1/LogResponse.js';

export interface HostServiceClient extends grpc.Client {
  /**
   * Runs a tool that lives in the host (TypeScript) on behalf of a Python tool call.
   */
  CallHostTool(argument: _trellis_bridge_v1_CallHostToolRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_CallHostToolResponse__Output>): grpc.ClientUnaryCall;
  CallHostTool(argument: _trellis_bridge_v1_CallHostToolRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_trellis_bridge_v1_CallHostToolResponse__Output>): grpc.ClientUnaryCall;
  CallHostTool(argument: _trellis_bridge_v1_CallHostToolRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_CallHostToolResponse__Output>): grpc.ClientUnaryCall;
  CallHostTool(argument: _trellis_bridge_v1_CallHostToolRequest, callback: grpc.requestCallback<_trellis_bridge_v1_CallHostToolResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Runs a tool that lives in the host (TypeScript) on behalf of a Python tool call.
   */
  callHostTool(argument: _trellis_bridge_v1_CallHostToolRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_CallHostToolResponse__Output>): grpc.ClientUnaryCall;
  callHostTool(argument: _trellis_bridge_v1_CallHostToolRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_trellis_bridge_v1_CallHostToolResponse__Output>): grpc.ClientUnaryCall;
  callHostTool(argument: _trellis_bridge_v1_CallHostToolRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_CallHostToolResponse__Output>): grpc.ClientUnaryCall;
  callHostTool(argument: _trellis_bridge_v1_CallHostToolRequest, callback: grpc.requestCallback<_trellis_bridge_v1_CallHostToolResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Forwards a batch of Python log records to the host's logging/telemetry.
   */
  Log(argument: _trellis_bridge_v1_LogRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_LogResponse__Output>): grpc.ClientUnaryCall;
  Log(argument: _trellis_bridge_v1_LogRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_trellis_bridge_v1_LogResponse__Output>): grpc.ClientUnaryCall;
  Log(argument: _trellis_bridge_v1_LogRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_LogResponse__Output>): grpc.ClientUnaryCall;
  Log(argument: _trellis_bridge_v1_LogRequest, callback: grpc.requestCallback<_trellis_bridge_v1_LogResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Forwards a batch of Python log records to the host's logging/telemetry.
   */
  log(argument: _trellis_bridge_v1_LogRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_LogResponse__Output>): grpc.ClientUnaryCall;
  log(argument: _trellis_bridge_v1_LogRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_trellis_bridge_v1_LogResponse__Output>): grpc.ClientUnaryCall;
  log(argument: _trellis_bridge_v1_LogRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_trellis_bridge_v1_LogResponse__Output>): grpc.ClientUnaryCall;
  log(argument: _trellis_bridge_v1_LogRequest, callback: grpc.requestCallback<_trellis_bridge_v1_LogResponse__Output>): grpc.ClientUnaryCall;
  
}

export interface HostServiceHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Runs a tool that lives in the host (TypeScript) on behalf of a Python tool call.
   */
  CallHostTool: grpc.handleUnaryCall<_trellis_bridge_v1_CallHostToolRequest__Output, _trellis_bridge_v1_CallHostToolResponse>;
  
  /**
   * Forwards a batch of Python log records to the host's logging/telemetry.
   */
  Log: grpc.handleUnaryCall<_trellis_bridge_v1_LogRequest__Output, _trellis_bridge_v1_LogResponse>;
  
}

export interface HostServiceDefinition extends grpc.ServiceDefinition {
  CallHostTool: MethodDefinition<_trellis_bridge_v1_CallHostToolRequest, _trellis_bridge_v1_CallHostToolResponse, _trellis_bridge_v1_CallHostToolRequest__Output, _trellis_bridge_v1_CallHostToolResponse__Output>
  Log: MethodDefinition<_trellis_bridge_v1_LogRequest, _trellis_bridge_v1_LogResponse, _trellis_bridge_v1_LogRequest__Output, _trellis_bridge_v1_LogResponse__Output>
}
