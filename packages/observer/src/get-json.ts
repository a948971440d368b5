/**
 * One GET of a JSON answer from a running observer, on a plain one-shot connection (no keep-alive
 * socket to hold the CLI open): what `trellis status` and `trellis logs` ask of it. Each caller
 * judges the status code itself (not ready, refused token, not a snapshot).
 */
import { request } from 'node:http';

export interface JsonAnswer {
  readonly status: number | undefined;
  /** Parsed JSON; the caller checks the shape it expects. */
  readonly body: any;
}

/**
 * Rejects with the body's parse error, with `new Error(timeoutMessage)` after `timeoutMs` without
 * an answer, or with `unreachable(e)` when the connection fails (the time-out included).
 */
export function getJson(
  url: URL,
  headers: Record<string, string>,
  timeoutMs: number,
  timeoutMessage: string,
  unreachable: (e: Error) => unknown = (e) => e,
): Promise<JsonAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode, body: JSON.parse(text) });
        } catch (e) {
          reject(e);
        }
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(timeoutMessage)));
    req.on('error', (e) => reject(unreachable(e)));
    req.end();
  });
}
