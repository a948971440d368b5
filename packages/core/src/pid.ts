/**
 * Process identifiers.
 *
 * A Pid is an opaque string of the form `<node.id>`: `node` is the id of the thread that hosts the
 * process (the main thread is 0, a worker thread uses its `threadId`), `id` counts up within that
 * thread. A string survives structured clone unchanged, compares with `===`, and keys a Map, so a
 * Pid can be put inside any message and stays valid in every thread of the process.
 */

declare const pidBrand: unique symbol;
export type Pid = string & { readonly [pidBrand]: true };

declare const refBrand: unique symbol;
/** A monitor or call reference; unique within the OS process. */
export type Ref = string & { readonly [refBrand]: true };

const PID_RE = /^<\d+\.\d+>$/;

export function makePid(node: number, id: number): Pid {
  return `<${node}.${id}>` as Pid;
}

export function isPid(v: unknown): v is Pid {
  return typeof v === 'string' && PID_RE.test(v);
}

/** The thread (node) a pid lives on. */
export function nodeOf(pid: Pid): number {
  // Hot path on every send: avoid a regex.
  return Number(pid.slice(1, pid.indexOf('.')));
}

export function makeRef(node: number, n: number): Ref {
  return `#Ref<${node}.${n}>` as Ref;
}
