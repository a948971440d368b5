/**
 * A child that fails to start ends `start(tree)` with SupervisorStartError; printed as Node prints an
 * uncaught error (util.inspect), it shows the child's error and stack ONCE (issue 18: three times,
 * through the message, the enumerable `reason` and `[cause]`). `reason` stays readable.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inspect } from 'node:util';
import { startSupervisor } from '../src/supervisor/supervisor.js';

describe('SupervisorStartError printing', () => {
  test("the child's stack appears once; reason is still there", async () => {
    const err = await startSupervisor({
      children: [
        {
          id: 'bad',
          start: async function failingChildStart() {
            throw new Error('cannot start: the thing is missing');
          },
        },
      ],
    }).then(
      () => assert.fail('started'),
      (e: unknown) => e as Error & { code: string; reason: { type: string } },
    );
    assert.equal(err.code, 'ERR_SUPERVISOR_START_FAILED');
    assert.equal(err.reason.type, 'shutdown');
    // Node prints an uncaught error without a depth limit on its own properties' nesting.
    const printed = inspect(err, { depth: Number.POSITIVE_INFINITY });
    assert.equal(printed.match(/failingChildStart/g)?.length, 1, printed);
  });
});
