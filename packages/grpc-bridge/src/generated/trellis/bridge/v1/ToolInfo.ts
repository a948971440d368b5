// Original file: protos/trellis/bridge/v1/tool_service.proto


export interface ToolInfo {
  'name'?: (string);
  /**
   * First paragraph of the function's docstring (or the description given to @tool).
   */
  'description'?: (string);
  /**
   * JSON Schema (draft 2020-12 subset) of the argument object, serialized as a JSON string:
   * {"type":"object","properties":{...},"required":[...],"additionalProperties":false}.
   */
  'parametersJsonSchema'?: (string);
  /**
   * True for generator tools: call them with ExecuteStream.
   */
  'streaming'?: (boolean);
  /**
   * Name of the parameter that receives an "application/octet-stream" argument payload; empty when
   * the tool takes no `bytes` parameter (such a tool only accepts JSON arguments).
   */
  'rawBytesParameter'?: (string);
  /**
   * Declared by the tool author with @tool(idempotent=True): safe to retry after a worker crash.
   */
  'idempotent'?: (boolean);
}

export interface ToolInfo__Output {
  'name': (string);
  /**
   * First paragraph of the function's docstring (or the description given to @tool).
   */
  'description': (string);
  /**
   * JSON Schema (draft 2020-12 subset) of the argument object, serialized as a JSON string:
   * {"type":"object","properties":{...},"required":[...],"additionalProperties":false}.
   */
  'parametersJsonSchema': (string);
  /**
   * True for generator tools: call them with ExecuteStream.
   */
  'streaming': (boolean);
  /**
   * Name of the parameter that receives an "application/octet-stream" argument payload; empty when
   * the tool takes no `bytes` parameter (such a tool only accepts JSON arguments).
   */
  'rawBytesParameter': (string);
  /**
   * Declared by the tool author with @tool(idempotent=True): safe to retry after a worker crash.
   */
  'idempotent': (boolean);
}
