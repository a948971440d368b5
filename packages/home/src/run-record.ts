/**
 * The fields that name a run's host, shared by the registry's run records and health's: the one
 * validator for both (they were near copies). `judgeRun` (host-identity.ts) needs exactly these.
 */

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

/** Whether `v` carries a well-formed run identity (a record read back from a file may be anything). */
export function isRunIdentity(v: unknown): v is RunIdentity {
  const r = v as RunIdentity;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof r.runId === 'string' &&
    Number.isInteger(r.hostPid) &&
    typeof r.hostStartTime === 'number' &&
    typeof r.bootId === 'string' &&
    typeof r.hostname === 'string' &&
    typeof r.pidNamespace === 'string'
  );
}
