/**
 * The runs' own cgroups (run-cgroup.ts): a worker cgroup left by a killed host inside a run's cgroup
 * is out of reach of another host's pool start, which kills the dead hosts' worker cgroups beside its
 * own. Beside it (where every run was before: the root cgroup, shared by the whole machine) it is
 * killed at once. That is how run A's SIGSTOPped workers died under load before run B's sweep could
 * find them ("kill -9, then the fresh start sweeps: 0 orphans", seed 1292544840).
 *
 * Real cgroup v2 and real processes; root only (creating cgroups), skipped with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readProcStat } from '@trellis/core';
import { killCgroup, ownCgroupDir, WorkerCgroups } from '@trellis/grpc-bridge';
import { RunCgroups } from '../src/run-cgroup.js';

const base = process.getuid?.() === 0 ? ownCgroupDir() : undefined;
const SKIP = base === undefined ? 'needs root and cgroup v2 (CI has both)' : false;

const started: ChildProcess[] = [];
const removals: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const r of removals.reverse()) await r();
});

/** The directory name a host that is gone would have left (grpc-bridge worker/descendants.ts). */
async function deadHostDirName(): Promise<string> {
  const p = spawn('sleep', ['0']);
  const st = readProcStat(p.pid!);
  await new Promise((r) => p.once('exit', r));
  return `trellis-${p.pid}-${st?.startTime ?? 1}-deadbeef`;
}

/** A `sleep` in a worker cgroup of a dead host under `parent`; resolves once it is in there. */
async function orphanIn(parent: string): Promise<{ child: ChildProcess; exited: Promise<unknown> }> {
  const host = join(parent, await deadHostDirName());
  const w = join(host, 'w1');
  mkdirSync(w, { recursive: true });
  removals.push(() => {
    // Gone already when the sweep or the driver removed it; else killed and removed here.
    if (!existsSync(w)) return;
    killCgroup(w);
    for (const d of [w, host]) rmdirSync(d);
  });
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  started.push(child);
  const exited = new Promise((r) => child.once('exit', r));
  writeFileSync(join(w, 'cgroup.procs'), String(child.pid));
  return { child, exited };
}

describe('runs in cgroups of their own', { skip: SKIP }, () => {
  test("a dead host's worker cgroup survives another host's pool start inside a run's cgroup, not beside it", async () => {
    const runs = RunCgroups.open();
    assert.ok(runs, 'the driver can make its cgroup');
    removals.push(() => runs.remove());
    const runA = runs.forRun('A');
    assert.ok(runA && existsSync(join(runA, 'cgroup.procs')));

    const inside = await orphanIn(runA);
    const beside = await orphanIn(base!);

    // Another host starts a pool: its start sweeps the dead hosts' cgroups beside its own.
    const other = WorkerCgroups.open();
    assert.ok(other, 'a pool can make its cgroups here');
    removals.push(() => other.close());

    await beside.exited;
    assert.equal(beside.child.signalCode, 'SIGKILL', 'beside it: killed by the sweep');
    assert.equal(inside.child.exitCode, null);
    assert.equal(inside.child.signalCode, null, "inside the run's cgroup: untouched");

    // The driver's clean-up removes the whole tree, killing what is still inside.
    await runs.remove();
    await inside.exited;
    assert.equal(existsSync(runs.dir), false);
  });
});
