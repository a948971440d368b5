/**
 * OTP's supervisor:check_childspecs/1,2: validates child specs without starting anything, with the
 * same rules a supervisor applies at start (fields, duplicate ids, significant children against
 * auto_shutdown, one template for simple_one_for_one).
 */
import { InvalidChildSpecError, type TrellisError } from '../errors.js';
import type { ChildSpec } from './child-spec.js';
import { normalizeFlags, type SupervisorFlags } from './flags.js';
import { validateSpecs } from './supervisor.js';

export type CheckChildSpecsResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: TrellisError };

/**
 * `{ ok: true }`, or `{ ok: false, error }` with the error a supervisor would refuse them with
 * (ERR_INVALID_CHILD_SPEC, ERR_DUPLICATE_CHILD_ID, ERR_INVALID_SUPERVISOR_FLAGS). `flags` defaults to
 * one_for_one with autoShutdown 'never', as OTP's check_childspecs/1.
 */
export function checkChildSpecs(specs: readonly ChildSpec[], flags?: SupervisorFlags): CheckChildSpecsResult {
  try {
    if (!Array.isArray(specs))
      throw new InvalidChildSpecError(`checkChildSpecs takes an array of child specs, got ${typeof specs}`, {
        field: 'specs',
      });
    validateSpecs(specs, normalizeFlags(flags));
    return { ok: true };
  } catch (e) {
    return { ok: false, error: e as TrellisError };
  }
}
