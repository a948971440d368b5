/**
 * FrameSender over a real MessageChannel: batching, immediate transfer, and the item-by-item
 * fallback when structured clone rejects a frame.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Exit } from '../src/exit-reason.js';
import { nodeOf, type Pid } from '../src/pid.js';
import type { Signal } from '../src/signals.js';
import type { Frame } from '../src/thread/protocol.js';
import {
  CONTROL,
  FrameSender,
  failedCallFor,
  readFrame,
  setThreadWarningHook,
  type ThreadWarning,
} from '../src/thread/transport.js';

const A = '<7.1>' as Pid;
const B = '<7.2>' as Pid;

/** Every channel a test opens is closed after it, pass or fail, so no port keeps the process up. */
const open: MessagePort[] = [];
afterEach(() => {
  for (const p of open.splice(0)) p.close();
});

function channel(): { port1: MessagePort; port2: MessagePort } {
  const c = new MessageChannel();
  open.push(c.port1, c.port2);
  return c;
}

/** Collects the frames arriving on `port`; `until(n)` waits for n of them. */
function receiver(port: MessagePort): { frames: Frame[]; until(n: number): Promise<void> } {
  const frames: Frame[] = [];
  let wake: (() => void) | undefined;
  port.on('message', (f: Frame) => {
    frames.push(f);
    wake?.();
  });
  return {
    frames,
    async until(n) {
      const deadline = Date.now() + 5000;
      while (frames.length < n) {
        if (Date.now() > deadline) throw new Error(`only ${frames.length} of ${n} frames arrived`);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 50);
        });
      }
    },
  };
}

/** Decodes a frame back into (dest, signal | control) items. */
function items(frame: Frame): Array<[number, unknown]> {
  const out: Array<[number, unknown]> = [];
  readFrame(frame, {
    msg: (to, m) => out.push([nodeOf(to), { t: 'msg', to, m }]),
    call: (to, from, req) => out.push([nodeOf(to), { t: 'call', to, from, req }]),
    reply: (dest, ref, v) => out.push([dest, { t: 'reply', ref, v }]),
    signal: (dest, sig) => out.push([dest, sig]),
    control: (c) => out.push([CONTROL, c]),
  });
  return out;
}

describe('thread transport', () => {
  test('a burst of signals in one tick goes out as one postMessage, in order', async () => {
    const { port1, port2 } = channel();
    const rx = receiver(port2);
    const tx = new FrameSender(port1);
    for (let i = 0; i < 1000; i++) tx.signal(7, { t: 'msg', to: i % 2 === 0 ? A : B, m: i });
    tx.signal(7, { t: 'link', from: '<0.3>' as Pid, to: A });
    tx.signal(7, { t: 'call', to: B, from: { pid: '<0.3>' as Pid, ref: 9 }, req: { q: 1 } });
    tx.signal(0, { t: 'reply', ref: 4, v: [1, 2] });
    tx.control({ k: 'ready' });
    assert.equal(tx.posts, 0, 'nothing is posted before the microtask');
    await rx.until(1);
    assert.equal(tx.posts, 1);
    const got = items(rx.frames[0]!);
    assert.equal(got.length, 1004);
    for (let i = 0; i < 1000; i++) assert.deepEqual(got[i], [7, { t: 'msg', to: i % 2 === 0 ? A : B, m: i }]);
    assert.deepEqual(got[1000], [7, { t: 'link', from: '<0.3>', to: A }]);
    assert.deepEqual(got[1001], [7, { t: 'call', to: B, from: { pid: '<0.3>', ref: 9 }, req: { q: 1 } }]);
    assert.deepEqual(got[1002], [0, { t: 'reply', ref: 4, v: [1, 2] }]);
    assert.deepEqual(got[1003], [CONTROL, { k: 'ready' }]);
  });

  test('a full batch is flushed without waiting for the microtask', async () => {
    const { port1, port2 } = channel();
    const rx = receiver(port2);
    const tx = new FrameSender(port1, undefined, 10);
    for (let i = 0; i < 25; i++) tx.signal(7, { t: 'msg', to: A, m: i });
    assert.equal(tx.posts, 2, 'two full frames of 10 went out synchronously');
    await rx.until(3);
    assert.deepEqual(
      rx.frames.flatMap(items).map(([, s]) => (s as { m: number }).m),
      Array.from({ length: 25 }, (_, i) => i),
    );
  });

  test('a transfer flushes at once and detaches the buffer on the sender', async () => {
    const { port1, port2 } = channel();
    const rx = receiver(port2);
    const tx = new FrameSender(port1);
    tx.signal(7, { t: 'msg', to: A, m: 'before' });
    const buf = new ArrayBuffer(1 << 20);
    new Uint8Array(buf)[5] = 42;
    tx.signal(7, { t: 'msg', to: A, m: { buf } }, [buf]);
    assert.equal(buf.byteLength, 0, 'detached as soon as the send returned');
    await rx.until(1);
    const got = items(rx.frames[0]!);
    assert.equal((got[0]![1] as { m: string }).m, 'before');
    const arrived = (got[1]![1] as { m: { buf: ArrayBuffer } }).m.buf;
    assert.equal(arrived.byteLength, 1 << 20);
    assert.equal(new Uint8Array(arrived)[5], 42);
  });

  test('a frame that cannot be cloned is re-sent item by item and only the bad item is dropped', async () => {
    const { port1, port2 } = channel();
    const rx = receiver(port2);
    const warnings: ThreadWarning[] = [];
    const prev = setThreadWarningHook((w) => warnings.push(w));
    const dropped: unknown[] = [];
    try {
      const tx = new FrameSender(port1, (d) => dropped.push(d.item));
      const notCloneable = { f: () => 1 };
      const call: Signal = { t: 'call', to: A, from: { pid: '<0.9>' as Pid, ref: 3 }, req: notCloneable };
      tx.signal(7, { t: 'msg', to: A, m: 1 });
      tx.signal(7, call);
      tx.signal(7, { t: 'msg', to: A, m: 2 });
      // An exit signal whose reason cannot be cloned is sent with the reason reduced to plain data.
      tx.signal(7, { t: 'exit', from: B, to: A, r: Exit.error({ weird: () => 0 }), link: true });
      await rx.until(3);
      const got = rx.frames.flatMap(items);
      assert.deepEqual(
        got.map(([, s]) => (s as Signal).t),
        ['msg', 'msg', 'exit'],
      );
      assert.deepEqual(
        got.slice(0, 2).map(([, s]) => (s as { m: number }).m),
        [1, 2],
      );
      const exitSig = got[2]![1] as { r: { type: string; cause: { name: string } } };
      assert.equal(exitSig.r.type, 'error');
      assert.equal(exitSig.r.cause.name, 'NonError');
      assert.equal(warnings.length, 1);
      assert.equal(warnings[0]!.code, 'TRELLIS_THREAD_DROPPED');
      assert.match(warnings[0]!.message, /"call" signal/);
      assert.deepEqual(dropped, [call]);
      // The owner answers the dropped call so its caller does not wait for a time-out.
      const back = failedCallFor({ dest: 7, item: call, error: new Error('x') });
      assert.equal(back?.dest, 0);
      assert.equal(back?.signal.t, 'callfail');
    } finally {
      setThreadWarningHook(prev);
    }
  });
});
