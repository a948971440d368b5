// Original file: protos/trellis/bridge/v1/tool_service.proto


export interface ToolMetric {
  /**
   * Instrument name, for example "rows_parsed".
   */
  'name'?: (string);
  'value'?: (number | string);
  /**
   * "counter" (value added), "histogram" (value recorded) or "gauge" (last value wins).
   */
  'kind'?: (string);
  'attributes'?: ({[key: string]: string});
  /**
   * Unit in UCUM form ("s", "By", "1"); empty for none.
   */
  'unit'?: (string);
}

export interface ToolMetric__Output {
  /**
   * Instrument name, for example "rows_parsed".
   */
  'name': (string);
  'value': (number);
  /**
   * "counter" (value added), "histogram" (value recorded) or "gauge" (last value wins).
   */
  'kind': (string);
  'attributes': ({[key: string]: string});
  /**
   * Unit in UCUM form ("s", "By", "1"); empty for none.
   */
  'unit': (string);
}
