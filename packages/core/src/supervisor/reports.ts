/**
 * Supervisor reports on the shared logger, as OTP's supervisor writes them (supervisor_report with an
 * errorContext, and progress reports):
 * - `child_terminated` (error): a child exited abnormally, or a permanent child exited at all;
 * - `start_error` (error): a child's start failed;
 * - `shutdown` / `reached_max_restart_intensity` (error): the supervisor gives up;
 * - `progress` (debug): a child started. OTP's progress reports are filtered out by default (they are
 *   info reports of the SASL domain); debug keeps them out of the default `info` output likewise.
 *
 * getLogger() loads pino on the first report only.
 */

import { reasonFields } from '../crash-report.js';
import type { SupervisorEvent } from '../events.js';
import { formatReason, isCleanExit } from '../exit-reason.js';
import { getLogger } from '../logger.js';
import type { Pid } from '../pid.js';
import type { NormalizedChildSpec } from './child-spec.js';

type Ev = SupervisorEvent extends infer E
  ? E extends unknown
    ? Omit<E, 'supervisor' | 'supervisorName' | 'at'>
    : never
  : never;

/** The child spec fields OTP puts in a report's `offender`. */
function offender(spec: NormalizedChildSpec | undefined, id: string, pid?: Pid): Record<string, unknown> {
  return {
    id,
    pid,
    restart: spec?.restart,
    shutdown: spec?.shutdown,
    childType: spec?.type,
    significant: spec?.significant,
  };
}

export function reportSupervisorEvent(
  supervisor: Pid,
  supervisorName: string | undefined,
  spec: (id: string) => NormalizedChildSpec | undefined,
  e: Ev,
): void {
  const sup = supervisorName ?? supervisor;
  try {
    switch (e.type) {
      case 'child_exited': {
        const s = spec(e.id);
        if (isCleanExit(e.reason) && s?.restart !== 'permanent') return;
        getLogger().error(
          {
            report: 'supervisor_report',
            supervisor,
            supervisorName,
            errorContext: 'child_terminated',
            ...reasonFields(e.reason),
            offender: offender(s, e.id, e.pid),
          },
          `supervisor ${sup}: child "${e.id}" (${e.pid}) terminated with ${formatReason(e.reason)}`,
        );
        return;
      }
      case 'child_start_failed':
        getLogger().error(
          {
            report: 'supervisor_report',
            supervisor,
            supervisorName,
            errorContext: 'start_error',
            ...reasonFields(e.reason),
            offender: offender(spec(e.id), e.id),
          },
          `supervisor ${sup}: child "${e.id}" failed to start: ${formatReason(e.reason)}`,
        );
        return;
      case 'intensity_reached':
        getLogger().error(
          {
            report: 'supervisor_report',
            supervisor,
            supervisorName,
            errorContext: 'shutdown',
            reason: 'reached_max_restart_intensity',
            intensity: e.intensity,
            periodMs: e.periodMs,
          },
          `supervisor ${sup}: reached max restart intensity (${e.intensity} in ${e.periodMs} ms); shutting down`,
        );
        return;
      case 'child_started':
      case 'child_restarted':
        getLogger().debug(
          { report: 'progress', supervisor, supervisorName, started: offender(spec(e.id), e.id, e.pid) },
          `supervisor ${sup}: started child "${e.id}" (${e.pid})`,
        );
        return;
      default:
        return;
    }
  } catch {
    // A logger that throws must not change what the supervisor does.
  }
}
