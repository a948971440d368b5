// Original file: protos/trellis/bridge/v1/tool_service.proto


export interface PingResponse {
  'data'?: (Buffer | Uint8Array | string);
}

export interface PingResponse__Output {
  'data': (Buffer);
}
