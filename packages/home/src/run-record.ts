/**
 * The fields that name a run's host, shared by the registry's run records and health's: the one
 * validator for both (they were near copies). `judgeRun` (host-identity.ts) needs exactly these.
 */
import { type FieldKind, hasFields } from './record-fields.js';

/** Who wrote a run: enough to tell whether its host process still lives, and where it lived. */
export interface RunIdentity {
  readonly runId: string;
  readonly hostPid: number;
  /** Clock ticks since boot (field 22 of `/proc/<hostPid>/stat`): with `hostPid` it names the host. */
  readonly hostStartTime: number;
  /** `/proc/sys/kernel/random/boot_id` when the run started: another value means the machine rebooted. */
  readonly bootId: string;
  readonly hostname: string;
  /** PID namespace of the host (`pid:[...]`): PIDs from another namespace are not comparable. */
  readonly pidNamespace: string;
}

const RUN_IDENTITY_FIELDS = Object.freeze({
  runId: 'string',
  hostPid: 'integer',
  hostStartTime: 'number',
  bootId: 'string',
  hostname: 'string',
  pidNamespace: 'string',
} satisfies Record<keyof RunIdentity, FieldKind>);

/** Whether `v` carries a well-formed run identity (a record read back from a file may be anything). */
export function isRunIdentity(v: unknown): v is RunIdentity {
  return hasFields(v, RUN_IDENTITY_FIELDS);
}
