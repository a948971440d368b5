/** The observer's errors: every one a TrellisError with a stable code (docs/errors.md). */
import { InvalidOptionsError, TrellisError } from '@trellis/core';

/** A bad option to startObserver / observerChild / withObserver. */
export class InvalidObserverOptionsError extends InvalidOptionsError {
  static override readonly code = 'ERR_INVALID_OBSERVER_OPTIONS';
}

/** The observer was asked to bind to something other than 127.0.0.1. */
export class ObserverHostRefusedError extends TrellisError {
  constructor(host: unknown) {
    super(
      'ERR_OBSERVER_HOST_REFUSED',
      `the observer binds only to 127.0.0.1, got host ${JSON.stringify(host)}: its page can kill processes, so it is never exposed on another interface; omit host (or pass '127.0.0.1') and reach it from elsewhere through an SSH tunnel`,
      { details: { host } },
    );
  }
}

/** The HTTP server could not listen (port taken, no permission). */
export class ObserverListenError extends TrellisError {
  constructor(port: number, cause: unknown) {
    const code = (cause as { code?: unknown } | null)?.code;
    super(
      'ERR_OBSERVER_LISTEN_FAILED',
      `the observer could not listen on 127.0.0.1:${port}${typeof code === 'string' ? ` (${code})` : ''}; pick another port, or pass port 0 to let the OS choose one`,
      { cause, details: { port } },
    );
  }
}

/** `trellis status --url` (or an announced observer) did not answer. */
export class ObserverUnreachableError extends TrellisError {
  constructor(url: string, cause: unknown) {
    super(
      'ERR_OBSERVER_UNREACHABLE',
      `no observer answered at ${url}: ${(cause as Error)?.message ?? String(cause)}; check that the app is running and the URL is the one it printed, or drop --url to read the persisted data`,
      { cause, details: { url } },
    );
  }
}

/**
 * An error answered to an HTTP request (control or snapshot). It carries the status code; the body
 * is `{ error: { code, message } }`.
 */
export class ObserverRequestError extends TrellisError {
  readonly status: number;
  constructor(status: number, code: string, message: string, details?: Record<string, unknown>) {
    super(code, message, { details });
    this.status = status;
  }
}

export const forbidden = (): ObserverRequestError =>
  new ObserverRequestError(
    403,
    'ERR_OBSERVER_FORBIDDEN',
    'control requests need the token the observer printed at start-up, in the X-Trellis-Token header or a form field "token"; nothing was done',
  );
