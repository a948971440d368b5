/**
 * Run identity as every package judges it: a run id names its host (PID and start time), a run is
 * alive only while that exact process lives, records from another boot or host are never judged
 * dead, and one validator accepts the run records of the registry and of health. Real processes.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { readProcStat } from '@trellis/core';
import {
  createRunId,
  currentHost,
  currentIdentity,
  homeTagFor,
  isRunIdentity,
  judgeRun,
  parseRunId,
  type RunIdentity,
  resolveHomeDir,
} from '../src/index.js';

const here = currentIdentity('0123abcd');

function runOf(host: { pid: number; startTime: number }, overrides: Partial<RunIdentity> = {}): RunIdentity {
  return {
    runId: createRunId(here.homeTag, host),
    hostPid: host.pid,
    hostStartTime: host.startTime,
    bootId: here.bootId,
    hostname: here.hostname,
    pidNamespace: here.pidNamespace,
    ...overrides,
  };
}

describe('run identity', () => {
  test('a run id carries its home tag and host, and parses back', () => {
    const host = currentHost();
    const id = createRunId('0123abcd', host, 1_700_000_000_000);
    assert.deepEqual(parseRunId(id), {
      createdAt: 1_700_000_000_000,
      homeTag: '0123abcd',
      hostPid: host.pid,
      hostStartTime: host.startTime,
      nonce: id.slice(-8),
    });
    assert.equal(parseRunId('not-a-run-id'), undefined);
  });

  test('judgeRun: alive only while the exact host process lives; reboots and other hosts are not dead', async () => {
    const me = currentHost();
    assert.equal(judgeRun('x', runOf(me), here), 'alive');
    // The same PID with another start time: the PID was reused, the run's host is dead.
    assert.equal(judgeRun('x', runOf({ pid: me.pid, startTime: me.startTime - 1 }), here), 'dead');
    // A host that exited.
    const child = spawn('true', [], { stdio: 'ignore' });
    const gone = { pid: child.pid!, startTime: readProcStat(child.pid!)!.startTime };
    await new Promise((r) => child.once('exit', r));
    assert.equal(judgeRun('x', runOf(gone), here), 'dead');
    assert.equal(judgeRun('x', runOf(me, { bootId: 'another-boot' }), here), 'rebooted');
    assert.equal(judgeRun('x', runOf(me, { hostname: 'another-machine' }), here), 'foreign');
    assert.equal(judgeRun('x', runOf(me, { pidNamespace: 'pid:[1]' }), here), 'foreign');
    // Without a record, from the run id alone; an id that does not parse cannot be judged, so is foreign.
    assert.equal(judgeRun(createRunId('0123abcd', me), undefined, here), 'alive');
    assert.equal(judgeRun(createRunId('0123abcd', gone), undefined, here), 'dead');
    assert.equal(judgeRun('garbage', undefined, here), 'foreign');
  });

  test('one validator for the registry’s and health’s run records', () => {
    const base = runOf(currentHost());
    assert.ok(isRunIdentity({ ...base, startedAt: 'now', cwd: '/' }), 'a registry run record');
    assert.ok(
      isRunIdentity({ ...base, state: 'running', name: 'health', flushIntervalMs: 1 }),
      'a health one',
    );
    for (const bad of [
      null,
      'run',
      { ...base, hostPid: 1.5 },
      { ...base, hostStartTime: '1' },
      { ...base, bootId: undefined },
      { ...base, hostname: 7 },
      { ...base, pidNamespace: null },
      { ...base, runId: 1 },
    ]) {
      assert.equal(isRunIdentity(bad), false, JSON.stringify(bad));
    }
  });

  test('the home directory: option > TRELLIS_HOME > <cwd>/.trellis; its tag follows the real path', () => {
    assert.equal(resolveHomeDir({ dir: 'x', env: { TRELLIS_HOME: '/h' }, cwd: '/c' }), '/c/x');
    assert.equal(resolveHomeDir({ env: { TRELLIS_HOME: '/h' }, cwd: '/c' }), '/h');
    assert.equal(resolveHomeDir({ env: { TRELLIS_HOME: '' }, cwd: '/c' }), '/c/.trellis');
    const d = mkdtempSync(join(tmpdir(), 'trellis-test-marker-home-'));
    try {
      symlinkSync(d, `${d}-link`);
      assert.equal(homeTagFor(`${d}-link`), homeTagFor(d), 'a symlink to the home is the same home');
      assert.match(homeTagFor(d), /^[0-9a-f]{8}$/);
    } finally {
      rmSync(`${d}-link`, { force: true });
      rmSync(d, { recursive: true, force: true });
    }
  });
});
