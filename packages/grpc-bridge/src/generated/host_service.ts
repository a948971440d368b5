import type * as grpc from '@grpc/grpc-js';
import type { MessageTypeDefinition } from '@grpc/proto-loader';

import type { CallHostToolRequest as _trellis_bridge_v1_CallHostToolRequest, CallHostToolRequest__Output as _trellis_bridge_v1_CallHostToolRequest__Output } from './trellis/bridge/v1/CallHostToolRequest.js';
import type { CallHostToolResponse as _trellis_bridge_v1_CallHostToolResponse, CallHostToolResponse__Output as _trellis_bridge_v1_CallHostToolResponse__Output } from './trellis/bridge/v1/CallHostToolResponse.js';
import type { ErrorDetail as _trellis_bridge_v1_ErrorDetail, ErrorDetail__Output as _trellis_bridge_v1_ErrorDetail__Output } from './trellis/bridge/v1/ErrorDetail.js';
import type { HostServiceClient as _trellis_bridge_v1_HostServiceClient, HostServiceDefinition as _trellis_bridge_v1_HostServiceDefinition } from './trellis/bridge/v1/HostService.js';
import type { LogRecord as _trellis_bridge_v1_LogRecord, LogRecord__Output as _trellis_bridge_v1_LogRecord__Output } from './trellis/bridge/v1/LogRecord.js';
import type { LogRequest as _trellis_bridge_v1_LogRequest, LogRequest__Output as _trellis_bridge_v1_LogRequest__Output } from './trellis/bridge/v1/LogRequest.js';
import type { LogResponse as _trellis_bridge_v1_LogResponse, LogResponse__Output as _trellis_bridge_v1_LogResponse__Output } from './trellis/bridge/v1/LogResponse.js';
import type { Payload as _trellis_bridge_v1_Payload, Payload__Output as _trellis_bridge_v1_Payload__Output } from './trellis/bridge/v1/Payload.js';
import type { SharedSegment as _trellis_bridge_v1_SharedSegment, SharedSegment__Output as _trellis_bridge_v1_SharedSegment__Output } from './trellis/bridge/v1/SharedSegment.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  trellis: {
    bridge: {
      v1: {
        CallHostToolRequest: MessageTypeDefinition<_trellis_bridge_v1_CallHostToolRequest, _trellis_bridge_v1_CallHostToolRequest__Output>
        CallHostToolResponse: MessageTypeDefinition<_trellis_bridge_v1_CallHostToolResponse, _trellis_bridge_v1_CallHostToolResponse__Output>
        ErrorDetail: MessageTypeDefinition<_trellis_bridge_v1_ErrorDetail, _trellis_bridge_v1_ErrorDetail__Output>
        HostService: SubtypeConstructor<typeof grpc.Client, _trellis_bridge_v1_HostServiceClient> & { service: _trellis_bridge_v1_HostServiceDefinition }
        LogRecord: MessageTypeDefinition<_trellis_bridge_v1_LogRecord, _trellis_bridge_v1_LogRecord__Output>
        LogRequest: MessageTypeDefinition<_trellis_bridge_v1_LogRequest, _trellis_bridge_v1_LogRequest__Output>
        LogResponse: MessageTypeDefinition<_trellis_bridge_v1_LogResponse, _trellis_bridge_v1_LogResponse__Output>
        Payload: MessageTypeDefinition<_trellis_bridge_v1_Payload, _trellis_bridge_v1_Payload__Output>
        SharedSegment: MessageTypeDefinition<_trellis_bridge_v1_SharedSegment, _trellis_bridge_v1_SharedSegment__Output>
      }
    }
  }
}

