// Original file: protos/trellis/bridge/v1/common.proto


/**
 * Structured details of a failed call.
 * 
 * Whenever a Trellis server (a Python worker, or the TypeScript host for HostService) fails a call,
 * it ends the RPC with a non-OK gRPC status code and puts this message, serialized with the
 * protobuf binary encoding, in the TRAILING metadata under the key "trellis-error-bin" (the "-bin"
 * suffix makes gRPC carry the value as raw bytes). The status message (grpc "details" string) is
 * "<error_type>: <message>". A status without this key came from gRPC itself (for example
 * DEADLINE_EXCEEDED raised by the client's own deadline, UNAVAILABLE when the worker is gone, or
 * RESOURCE_EXHAUSTED for a request larger than the worker's receive limit).
 * 
 * Status codes the Python worker uses:
 * INVALID_ARGUMENT   arguments do not match the tool's schema, or cannot be bound to its
 * signature; `field_path` names the offending field ("items[2].name")
 * NOT_FOUND          no tool with that name; `available_tools` lists the tools the worker has
 * FAILED_PRECONDITION  Execute (unary) called on a streaming tool: use ExecuteStream
 * RESOURCE_EXHAUSTED a payload (result or stream item) larger than the message limit, or MemoryError
 * DEADLINE_EXCEEDED  the call's deadline passed, or the tool raised TimeoutError
 * CANCELLED          the tool raised trellis_worker.Cancelled (or the call was cancelled)
 * UNIMPLEMENTED      the tool raised NotImplementedError
 * PERMISSION_DENIED  the tool raised PermissionError
 * INTERNAL           any other exception raised by the tool, or a result that cannot be encoded
 * UNAVAILABLE        (from gRPC) the worker is draining or gone; safe to retry elsewhere
 */
export interface ErrorDetail {
  /**
   * Python exception class name, for example "ValueError" or "ValidationError".
   */
  'errorType'?: (string);
  /**
   * The exception's message (str(exc)).
   */
  'message'?: (string);
  /**
   * The formatted Python traceback; empty when the error was raised before the tool ran.
   */
  'traceback'?: (string);
  /**
   * The tool the call named.
   */
  'tool'?: (string);
  /**
   * For INVALID_ARGUMENT: the path of the offending argument, e.g. "items[2].name"; empty for the
   * whole argument object.
   */
  'fieldPath'?: (string);
  /**
   * For NOT_FOUND: every tool name the worker serves, sorted.
   */
  'availableTools'?: (string)[];
}

/**
 * Structured details of a failed call.
 * 
 * Whenever a Trellis server (a Python worker, or the TypeScript host for HostService) fails a call,
 * it ends the RPC with a non-OK gRPC status code and puts this message, serialized with the
 * protobuf binary encoding, in the TRAILING metadata under the key "trellis-error-bin" (the "-bin"
 * suffix makes gRPC carry the value as raw bytes). The status message (grpc "details" string) is
 * "<error_type>: <message>". A status without this key came from gRPC itself (for example
 * DEADLINE_EXCEEDED raised by the client's own deadline, UNAVAILABLE when the worker is gone, or
 * RESOURCE_EXHAUSTED for a request larger than the worker's receive limit).
 * 
 * Status codes the Python worker uses:
 * INVALID_ARGUMENT   arguments do not match the tool's schema, or cannot be bound to its
 * signature; `field_path` names the offending field ("items[2].name")
 * NOT_FOUND          no tool with that name; `available_tools` lists the tools the worker has
 * FAILED_PRECONDITION  Execute (unary) called on a streaming tool: use ExecuteStream
 * RESOURCE_EXHAUSTED a payload (result or stream item) larger than the message limit, or MemoryError
 * DEADLINE_EXCEEDED  the call's deadline passed, or the tool raised TimeoutError
 * CANCELLED          the tool raised trellis_worker.Cancelled (or the call was cancelled)
 * UNIMPLEMENTED      the tool raised NotImplementedError
 * PERMISSION_DENIED  the tool raised PermissionError
 * INTERNAL           any other exception raised by the tool, or a result that cannot be encoded
 * UNAVAILABLE        (from gRPC) the worker is draining or gone; safe to retry elsewhere
 */
export interface ErrorDetail__Output {
  /**
   * Python exception class name, for example "ValueError" or "ValidationError".
   */
  'errorType': (string);
  /**
   * The exception's message (str(exc)).
   */
  'message': (string);
  /**
   * The formatted Python traceback; empty when the error was raised before the tool ran.
   */
  'traceback': (string);
  /**
   * The tool the call named.
   */
  'tool': (string);
  /**
   * For INVALID_ARGUMENT: the path of the offending argument, e.g. "items[2].name"; empty for the
   * whole argument object.
   */
  'fieldPath': (string);
  /**
   * For NOT_FOUND: every tool name the worker serves, sorted.
   */
  'availableTools': (string)[];
}
