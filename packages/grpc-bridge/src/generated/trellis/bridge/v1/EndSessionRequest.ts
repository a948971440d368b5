// Original file: protos/trellis/bridge/v1/tool_service.proto


export interface EndSessionRequest {
  'sessionId'?: (string);
}

export interface EndSessionRequest__Output {
  'sessionId': (string);
}
