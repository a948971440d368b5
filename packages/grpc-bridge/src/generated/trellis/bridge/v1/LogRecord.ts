// Original file: protos/trellis/bridge/v1/host_service.proto


export interface LogRecord {
  /**
   * Python level number: 10 DEBUG, 20 INFO, 30 WARNING, 40 ERROR, 50 CRITICAL.
   */
  'level'?: (number);
  /**
   * Python level name, for example "INFO".
   */
  'levelName'?: (string);
  /**
   * Logger name, for example "trellis_worker.tool.echo".
   */
  'logger'?: (string);
  /**
   * The formatted message (args already applied).
   */
  'message'?: (string);
  /**
   * When the record was made, Unix epoch milliseconds.
   */
  'timeUnixMs'?: (number | string);
  /**
   * Set for records made through ToolContext.log: the call, session and tool they belong to.
   */
  'callId'?: (string);
  'sessionId'?: (string);
  'tool'?: (string);
  /**
   * Formatted exception traceback when the record carries one (logger.exception); else empty.
   */
  'traceback'?: (string);
}

export interface LogRecord__Output {
  /**
   * Python level number: 10 DEBUG, 20 INFO, 30 WARNING, 40 ERROR, 50 CRITICAL.
   */
  'level': (number);
  /**
   * Python level name, for example "INFO".
   */
  'levelName': (string);
  /**
   * Logger name, for example "trellis_worker.tool.echo".
   */
  'logger': (string);
  /**
   * The formatted message (args already applied).
   */
  'message': (string);
  /**
   * When the record was made, Unix epoch milliseconds.
   */
  'timeUnixMs': (number);
  /**
   * Set for records made through ToolContext.log: the call, session and tool they belong to.
   */
  'callId': (string);
  'sessionId': (string);
  'tool': (string);
  /**
   * Formatted exception traceback when the record carries one (logger.exception); else empty.
   */
  'traceback': (string);
}
