/**
 * Every error Trellis raises is a `TrellisError` with a stable, documented `code`
 * (see docs/errors.md). Messages name what was wrong and how to fix it.
 *
 * Errors cross thread boundaries as plain data (`SerializedError`), because structured clone keeps
 * only `name`, `message` and `stack` of an Error and drops the prototype and extra fields.
 */

export class TrellisError extends Error {
  readonly code: string;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: string,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
    this.name = new.target.name;
  }
}

/**
 * A bad option, spec or argument of some API: the message says which and how to fix it, `details`
 * names the field. Every package has one or two; each subclass only names its `code`, so that they
 * are one constructor and not a copy of it per package.
 */
export abstract class InvalidOptionsError extends TrellisError {
  static readonly code: string;

  constructor(message: string, details?: Record<string, unknown>) {
    super((new.target as unknown as typeof InvalidOptionsError).code, message, { details });
  }
}

/** An invalid child spec, supervisor flags or backoff options. */
export class InvalidChildSpecError extends InvalidOptionsError {
  static override readonly code = 'ERR_INVALID_CHILD_SPEC';
}

export class InvalidSupervisorFlagsError extends InvalidOptionsError {
  static override readonly code = 'ERR_INVALID_SUPERVISOR_FLAGS';
}

export class DuplicateChildError extends TrellisError {
  constructor(id: string) {
    super(
      'ERR_DUPLICATE_CHILD_ID',
      `duplicate child id "${id}": every child spec under one supervisor needs a unique id; rename one of them`,
      { details: { id } },
    );
  }
}

/** Plain-data form of an error, safe for structured clone and JSON. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string | undefined;
  readonly code?: string | undefined;
  readonly details?: Record<string, unknown> | undefined;
  readonly cause?: SerializedError | undefined;
}

export function serializeError(err: unknown, depth = 0): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const details = (err as { details?: unknown }).details;
    return {
      name: err.name,
      message: err.message,
      stack: err.stack,
      code: typeof code === 'string' ? code : undefined,
      details:
        details && typeof details === 'object' ? safeDetails(details as Record<string, unknown>) : undefined,
      cause: err.cause !== undefined && depth < 4 ? serializeError(err.cause, depth + 1) : undefined,
    };
  }
  if (isSerializedError(err)) return err;
  return { name: 'NonError', message: describeValue(err) };
}

export function isSerializedError(v: unknown): v is SerializedError {
  return (
    typeof v === 'object' &&
    v !== null &&
    !(v instanceof Error) &&
    typeof (v as SerializedError).name === 'string' &&
    typeof (v as SerializedError).message === 'string'
  );
}

/** Rebuilds an Error (a TrellisError when it carries a code) from its plain-data form. */
export function deserializeError(s: SerializedError): Error {
  const err =
    s.code !== undefined
      ? new TrellisError(s.code, s.message, {
          details: s.details,
          cause: s.cause ? deserializeError(s.cause) : undefined,
        })
      : new Error(s.message, s.cause ? { cause: deserializeError(s.cause) } : undefined);
  err.name = s.name;
  if (s.stack !== undefined) err.stack = s.stack;
  return err;
}

function safeDetails(d: Record<string, unknown>): Record<string, unknown> | undefined {
  try {
    return structuredClone(d);
  } catch {
    return JSON.parse(JSON.stringify(d, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
  }
}

export function describeValue(v: unknown): string {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
