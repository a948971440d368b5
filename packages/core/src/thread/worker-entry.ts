/**
 * Entry of every thread-actor thread AND the module `@trellis/core/actor`: threads run its esbuild
 * bundle, dist/bundle/actor.js (scripts/bundle-core.mjs), which hub.ts starts as the Worker's file.
 *
 * In a thread-actor thread (workerData is the hub's BootData) it wires this thread's node to the main
 * thread, imports the user's module, starts the root process from its default export and reports
 * how it went (see protocol.ts):
 *
 *   boot -> [ready -> start]  (a warm spare waits for `start`; a cold start has it in workerData)
 *        -> started | ignored | start_failed
 *        -> exiting {reason}   when the root process exits
 *
 * After `exiting` the main thread terminates the thread. The thread lives exactly as long as its
 * root: when the root exits, every other process of the thread is killed (reason `killed`) so that
 * links and monitors elsewhere hear a precise reason before the thread goes away. Anywhere else
 * (the main thread, a piscina thread, a user's own Worker) importing it only gives the actor API.
 *
 * Why one module for both: thread start-up is benchmarked against a bare `new Worker`, and in a fresh
 * thread every file costs about half a millisecond, plus the resolution of each import. The bundle
 * makes this file and its whole static graph ONE file, which the package index imports its share of
 * the runtime from. The actor's module imports `@trellis/core/actor`, which is then this very file,
 * already loaded: no file to fetch, and the same runtime instance (a second copy of node.ts in a
 * thread would be a second Node). thread/errors.ts is imported statically for the same reason: a
 * lazy import would be one more file for every thread.
 */
// First: start importing the actor's module before the rest of the runtime evaluates (boot-import.ts).
import { bootData, bootImport, type ImportedModule } from './boot-import.js';

export * from './actor-api.js';

import { parentPort } from 'node:worker_threads';
import { ActorContext } from '../actor.js';
import { deserializeError } from '../errors.js';
import { decodeReason, Exit, type ExitReason, encodeReason } from '../exit-reason.js';
import { IGNORE, type Ignore, InitFailedError } from '../gen.js';
import { type GenServer, startServer } from '../gen-server.js';
import { type GenStatem, isStatem, startStatem } from '../gen-statem/gen-statem.js';
import { currentNode, type Node } from '../node.js';
import type { Pid } from '../pid.js';
import type { Proc } from '../process.js';
import { ThreadModuleError } from './errors.js';
import type { BootData, Frame, StartRequest, ThreadSpawner, ToThread } from './protocol.js';
import {
  type DroppedItem,
  FrameSender,
  type FrameVisitor,
  failedCallFor,
  readFrame,
  SPAWNER_KEY,
} from './transport.js';

type Definition =
  | GenServer<unknown, unknown[]>
  | GenStatem
  | ((ctx: ActorContext, ...args: unknown[]) => unknown);

function runThread(boot: BootData, imported: ImportedModule): void {
  const port = parentPort;
  if (port === null) throw new Error('worker-entry.js must run inside a worker thread (hub.ts starts it)');
  const node = currentNode();
  const sender = new FrameSender(port, (d) => answerDropped(node, sender, d));
  node.router = {
    // Every signal goes to the main thread, which knows which threads exist and bounces the rest.
    route(dest, sig, transfer) {
      sender.signal(dest, sig, transfer);
      return true;
    },
  };

  const spawns = new Map<number, { resolve: (p: Pid | Ignore) => void; reject: (e: unknown) => void }>();
  let nextReq = 0;
  const spawner: ThreadSpawner = {
    spawn(spec) {
      const req = ++nextReq;
      sender.control({ k: 'spawn', req, spec });
      return new Promise((resolve, reject) => spawns.set(req, { resolve, reject }));
    },
  };
  (globalThis as { [SPAWNER_KEY]?: ThreadSpawner })[SPAWNER_KEY] = spawner;

  let definition: Definition | undefined;
  let started = false;

  // Names registered here are published to the hub's directory, which replicates them to every thread.
  node.nameHook = (op, name, pid) => sender.control({ k: 'name', op, name, pid });

  const control = (c: ToThread): void => {
    switch (c.k) {
      case 'name':
        if (c.op === 'reg') node.remoteNames.set(c.name, c.pid);
        else if (node.remoteNames.get(c.name) === c.pid) node.remoteNames.delete(c.name);
        return;
      case 'name_lost':
        // Two threads registered one name at nearly the same time; the hub kept the first. Ours is
        // dropped (the process runs on without it), as OTP's global resolves a clash by keeping one.
        if (node.names.get(c.name) === c.pid) {
          node.nameHook = undefined; // the hub already knows
          node.unregister(c.name);
          node.nameHook = (op, name, pid) => sender.control({ k: 'name', op, name, pid });
          process.emitWarning(
            `name "${c.name}" of ${c.pid} was dropped: ${c.holder} in another thread registered it first`,
            { code: 'TRELLIS_NAME_CONFLICT' },
          );
        }
        node.remoteNames.set(c.name, c.holder);
        return;
      case 'start':
        if (!started && definition !== undefined) {
          started = true;
          startRoot(node, sender, definition, c.start);
        }
        return;
      case 'spawned':
      case 'spawn_ignored':
      case 'spawn_failed': {
        const w = spawns.get(c.req);
        spawns.delete(c.req);
        if (w === undefined) return;
        if (c.k === 'spawned') w.resolve(c.pid);
        else if (c.k === 'spawn_ignored') w.resolve(IGNORE);
        else w.reject(c.r !== undefined ? new InitFailedError(decodeReason(c.r)) : deserializeError(c.e));
        return;
      }
    }
  };

  // Frames from the main thread: everything in them is for this node.
  let lastTo: Pid | undefined;
  let lastProc: Proc | undefined;
  const visitor: FrameVisitor = {
    msg(to, m) {
      // The hot path: consecutive messages mostly go to the same process.
      if (to !== lastTo || lastProc === undefined || !lastProc.alive) {
        lastTo = to;
        lastProc = node.procs.get(to);
      }
      lastProc?.deliver(m);
    },
    call: (to, from, req) => node.handleSignal({ t: 'call', to, from, req }),
    reply: (_dest, ref, v) => node.calls.resolve(ref, v),
    signal: (_dest, sig) => node.handleSignal(sig),
    control: (c) => control(c as ToThread),
  };
  port.on('message', (frame: Frame) => readFrame(frame, visitor));
  // Whatever is queued when the thread dies should still reach the main thread: an uncaught
  // exception or process.exit() ends the thread before the microtask that would flush it.
  process.on('uncaughtExceptionMonitor', () => sender.flush());
  process.on('exit', () => sender.flush());

  if (imported.status === 'rejected') {
    failModule(sender, boot.url, 'could not be imported', imported.reason);
    return;
  }
  const def = imported.value.default;
  if (
    !(
      typeof def === 'function' ||
      (typeof def === 'object' && def !== null && typeof (def as GenServer).init === 'function')
    )
  ) {
    failModule(
      sender,
      boot.url,
      `has a default export of type ${def === null ? 'null' : typeof def}`,
      undefined,
    );
    return;
  }
  definition = def as Definition;
  if (boot.start !== undefined) {
    started = true;
    startRoot(node, sender, definition, boot.start);
  } else {
    sender.control({ k: 'ready' });
  }
}

function failModule(sender: FrameSender, url: string, problem: string, cause: unknown): void {
  const r = encodeReason(Exit.error(new ThreadModuleError(url, problem, cause)));
  sender.control({ k: 'start_failed', r });
  sender.control({ k: 'exiting', r });
  sender.flush();
}

function startRoot(node: Node, sender: FrameSender, def: Definition, req: StartRequest): void {
  let root: Pid | undefined;
  let outcome: Promise<Pid | Ignore>;
  try {
    if (typeof def === 'function') {
      root = node.spawn((proc) => def(new ActorContext(node, proc), ...req.args), {
        link: req.parent,
        name: req.name,
        trapExit: req.trapExit,
      });
      outcome = Promise.resolve(root);
    } else {
      const opts = { link: req.parent, parent: req.parent, name: req.name, trapExit: req.trapExit };
      // A gen_statem module is told apart by its callbackMode (OTP's callback_mode/0).
      outcome = isStatem(def)
        ? startStatem(def, [...req.args], opts, node)
        : startServer(def as GenServer<unknown, unknown[]>, [...req.args], opts, node);
      // startServer spawns synchronously, so the newest process of the node is the root.
      root = newestProcess(node);
    }
  } catch (e) {
    outcome = Promise.reject(e);
  }
  // `exiting` must follow the start report (the main thread settles the start from the latter).
  const reported = outcome.then(
    (r) => sender.control(r === IGNORE ? { k: 'ignored' } : { k: 'started', pid: r }),
    (e: unknown) => {
      const r = e instanceof InitFailedError ? e.reason : Exit.error(e);
      sender.control({ k: 'start_failed', r: encodeReason(r) });
      return r;
    },
  );
  const finish = (reason: ExitReason): void => {
    void reported.then(() => exitThread(node, sender, reason));
  };
  if (root === undefined) void reported.then((r) => exitThread(node, sender, r ?? Exit.noproc));
  else node.monitor((reason) => finish(reason), root);
}

function newestProcess(node: Node): Pid | undefined {
  let last: Pid | undefined;
  for (const pid of node.procs.keys()) last = pid;
  return last;
}

let exiting = false;

function exitThread(node: Node, sender: FrameSender, reason: ExitReason): void {
  if (exiting) return;
  exiting = true;
  // The thread ends with its root: the other processes go now, so their links and monitors in other
  // threads hear a precise reason instead of a nodedown after the fact.
  for (const proc of [...node.procs.values()]) node.terminate(proc, Exit.killed);
  sender.control({ k: 'exiting', r: encodeReason(reason) });
  sender.flush();
}

/** A call or reply that could not be cloned must still end the wait of its caller. */
function answerDropped(node: Node, sender: FrameSender, d: DroppedItem): void {
  const back = failedCallFor(d);
  if (back === undefined) return;
  if (back.dest === node.id) node.handleSignal(back.signal);
  else sender.signal(back.dest, back.signal);
}

if (bootData !== undefined && bootImport !== undefined) {
  // No top-level await: the actor's module imports this very module, which must have finished
  // evaluating by then (awaiting the import here would be a cycle that never settles).
  const boot = bootData;
  void bootImport.then((imported) => runThread(boot, imported));
}
