// Original file: protos/trellis/bridge/v1/tool_service.proto


export interface ToolSpan {
  /**
   * Numbered from 1 within the call; parent_id 0 means the call's own span.
   */
  'id'?: (number);
  'parentId'?: (number);
  'name'?: (string);
  'startUnixMs'?: (number | string);
  'endUnixMs'?: (number | string);
  'attributes'?: ({[key: string]: string});
  /**
   * The exception's "Type: message" when the span's block raised; else empty.
   */
  'error'?: (string);
}

export interface ToolSpan__Output {
  /**
   * Numbered from 1 within the call; parent_id 0 means the call's own span.
   */
  'id': (number);
  'parentId': (number);
  'name': (string);
  'startUnixMs': (number);
  'endUnixMs': (number);
  'attributes': ({[key: string]: string});
  /**
   * The exception's "Type: message" when the span's block raised; else empty.
   */
  'error': (string);
}
