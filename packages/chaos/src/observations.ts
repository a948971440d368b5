/**
 * What the system under test observes while it runs, in order: the faults as they land, worker and
 * child exits, restarts, recycles and resource samples. sut.ts appends to one ObservationLog, and
 * each report carries only what is new since the previous report (the host may be killed at any
 * moment: what was sent is what the driver knows); the driver's SutProcess gathers them back.
 */
import type { ExitRecord, FaultRecord, RecycleRecord, RestartRecord } from './fault-book.js';
import type { ResourceSample } from './sampler.js';

export interface Observations {
  readonly faults: readonly FaultRecord[];
  readonly exits: readonly ExitRecord[];
  readonly restarts: readonly RestartRecord[];
  readonly recycles: readonly RecycleRecord[];
  readonly samples: readonly ResourceSample[];
}

type Kind = keyof Observations;
type Lists = { readonly [K in Kind]: Observations[K][number][] };

const KINDS: readonly Kind[] = ['faults', 'exits', 'restarts', 'recycles', 'samples'];

export class ObservationLog {
  /** Everything observed so far, one list per kind (sut.ts appends). */
  readonly all: Lists = { faults: [], exits: [], restarts: [], recycles: [], samples: [] };
  readonly #sent = new Map<Kind, number>();

  /** What was observed since the previous call: the next report's share, counted as sent from now. */
  takeNew(): Observations {
    const out: Partial<Record<Kind, readonly unknown[]>> = {};
    for (const k of KINDS) {
      out[k] = this.all[k].slice(this.#sent.get(k) ?? 0);
      this.#sent.set(k, this.all[k].length);
    }
    return out as Observations;
  }
}
