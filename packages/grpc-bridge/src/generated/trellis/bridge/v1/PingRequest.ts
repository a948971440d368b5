// Original file: protos/trellis/bridge/v1/tool_service.proto


export interface PingRequest {
  'data'?: (Buffer | Uint8Array | string);
}

export interface PingRequest__Output {
  'data': (Buffer);
}
