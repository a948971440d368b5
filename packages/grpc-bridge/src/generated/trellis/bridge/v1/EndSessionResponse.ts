// Original file: protos/trellis/bridge/v1/tool_service.proto


export interface EndSessionResponse {
  /**
   * False when the worker held no state for that session.
   */
  'existed'?: (boolean);
}

export interface EndSessionResponse__Output {
  /**
   * False when the worker held no state for that session.
   */
  'existed': (boolean);
}
