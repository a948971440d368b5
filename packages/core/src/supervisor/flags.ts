/**
 * Supervisor flags: validation and OTP's defaults (supervisor.erl), in one frozen object.
 */
import { InvalidSupervisorFlagsError } from '../errors.js';

export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one' | 'simple_one_for_one';
export type AutoShutdown = 'never' | 'any_significant' | 'all_significant';

export interface SupervisorFlags {
  readonly strategy?: Strategy;
  /** Maximum restarts within `periodMs` (OTP's intensity). */
  readonly intensity?: number;
  /** The restart window in milliseconds (OTP's period, which OTP gives in seconds). */
  readonly periodMs?: number;
  readonly autoShutdown?: AutoShutdown;
}

export const SUPERVISOR_DEFAULTS = Object.freeze({
  strategy: 'one_for_one' as Strategy,
  intensity: 1,
  periodMs: 5000,
  autoShutdown: 'never' as AutoShutdown,
});

const STRATEGIES: readonly Strategy[] = ['one_for_one', 'one_for_all', 'rest_for_one', 'simple_one_for_one'];
const AUTO: readonly AutoShutdown[] = ['never', 'any_significant', 'all_significant'];

export function normalizeFlags(flags: SupervisorFlags | undefined): Required<SupervisorFlags> {
  // Field by field with ??, not a spread: an explicit `undefined` means "the default" (found by the
  // chaos suite's spec fuzzer: `{ intensity: undefined }` used to be refused).
  const given: SupervisorFlags = flags ?? {};
  const f = {
    strategy: given.strategy ?? SUPERVISOR_DEFAULTS.strategy,
    intensity: given.intensity ?? SUPERVISOR_DEFAULTS.intensity,
    periodMs: given.periodMs ?? SUPERVISOR_DEFAULTS.periodMs,
    autoShutdown: given.autoShutdown ?? SUPERVISOR_DEFAULTS.autoShutdown,
  };
  if (!STRATEGIES.includes(f.strategy)) {
    throw new InvalidSupervisorFlagsError(
      `unknown strategy "${String(f.strategy)}"; use one of ${STRATEGIES.join(', ')}`,
      { field: 'strategy', value: f.strategy },
    );
  }
  if (!Number.isInteger(f.intensity) || f.intensity < 0) {
    throw new InvalidSupervisorFlagsError(
      `intensity is ${String(f.intensity)}; it must be a whole number >= 0 (the restarts allowed within periodMs)`,
      { field: 'intensity', value: f.intensity },
    );
  }
  if (!Number.isInteger(f.periodMs) || f.periodMs <= 0) {
    throw new InvalidSupervisorFlagsError(
      `periodMs is ${String(f.periodMs)}; it must be a whole number of milliseconds > 0`,
      { field: 'periodMs', value: f.periodMs },
    );
  }
  if (!AUTO.includes(f.autoShutdown)) {
    throw new InvalidSupervisorFlagsError(
      `autoShutdown is "${String(f.autoShutdown)}"; use one of ${AUTO.join(', ')}`,
      { field: 'autoShutdown', value: f.autoShutdown },
    );
  }
  return f;
}
