import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { alive, assertNoneLeft, CLI, Cleanup, groupMembers, Host, SHELL_TREE, waitFor } from './helpers.js';

const cleanup = new Cleanup();
const markers: string[] = [];
after(() => cleanup.run());

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node scripts/trellis-cli.mjs ...args` as a real process, the way `pnpm trellis` does. */
function cli(args: string[], env: Record<string, string | undefined> = {}, cwd?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd,
      env: { ...process.env, TRELLIS_HOME: undefined, INIT_CWD: undefined, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`trellis ${args.join(' ')} did not finish`));
    }, 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('pnpm trellis registry', () => {
  test('list shows runs and children with their state; sweep --dry-run reports; sweep reaps', async () => {
    const dir = cleanup.dir();
    const dead = await Host.start(dir, cleanup);
    // The live host's own watch for dead peers is off: this test is about what the CLI does.
    const live = await Host.start(dir, cleanup, 300, 0);
    markers.push(dead.marker, live.marker);
    const orphan = await dead.spawn(cleanup, 'bash', SHELL_TREE, 'orphan');
    const kept = await live.spawn(cleanup, 'bash', SHELL_TREE, 'kept');
    await dead.crash();

    const list = await cli(['registry', 'list', '--dir', dir]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`run ${dead.runId} +host \\d+ dead`));
    assert.match(list.stdout, new RegExp(`run ${live.runId} +host \\d+ alive`));
    assert.match(list.stdout, new RegExp(`alive +pid ${orphan.pid} .*test/orphan`));
    assert.match(list.stdout, new RegExp(`alive +pid ${kept.pid} .*test/kept`));

    const json = JSON.parse((await cli(['registry', 'list', '--json', `--dir=${dir}`])).stdout);
    const runs = new Map(json.runs.map((r: any) => [r.runId, r]));
    assert.equal((runs.get(dead.runId) as any).host, 'dead');
    assert.equal((runs.get(live.runId) as any).children[0].status, 'alive');

    // TRELLIS_HOME is honoured when --dir is absent, and the default is ./.trellis of the caller's cwd.
    const viaEnv = await cli(['registry', 'list'], { TRELLIS_HOME: dir });
    assert.match(viaEnv.stdout, new RegExp(dead.runId));
    const elsewhere = cleanup.dir();
    const viaDefault = await cli(['registry', 'list'], { INIT_CWD: elsewhere });
    assert.match(viaDefault.stdout, new RegExp(`no registry at ${join(elsewhere, '.trellis')}`));

    const dry = await cli(['registry', 'sweep', '--dry-run', '--dir', dir, '--grace-ms', '300']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /dry run/);
    assert.match(dry.stdout, new RegExp(`would kill:\\n  pid ${orphan.pid} `));
    assert.ok(alive(orphan.pid, orphan.startTime), 'a dry run touches nothing');

    const sweep = await cli(['registry', 'sweep', '--dir', dir, '--grace-ms', '300']);
    assert.equal(sweep.code, 0, sweep.stderr);
    assert.match(sweep.stdout, /killed 1/);
    assert.match(sweep.stdout, /skipped, host alive:\n {2}pid \d+ .*test\/kept/);
    assert.deepEqual(groupMembers(orphan.pgid), []);
    assert.ok(alive(kept.pid, kept.startTime), 'the live run’s child is untouched');

    const after = await cli(['registry', 'list', '--dir', dir]);
    assert.doesNotMatch(after.stdout, new RegExp(dead.runId));
    await live.end();
    await waitFor(() => groupMembers(kept.pgid).length === 0, 'the live host to stop its child');
  });

  test('bad input and bad files give clear errors and exit codes', async () => {
    const unknown = await cli(['registry', 'bogus']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown registry command "bogus"/);
    const badFlag = await cli(['registry', 'sweep', '--grace-ms', 'soon']);
    assert.equal(badFlag.code, 2);
    assert.match(badFlag.stderr, /--grace-ms needs a number/);
    const noCommand = await cli([]);
    assert.equal(noCommand.code, 2);
    assert.match(noCommand.stderr, /registry +list and sweep/);

    const dir = cleanup.dir();
    writeFileSync(join(dir, 'registry.mdb'), Buffer.alloc(10_000, 0x5a));
    const list = await cli(['registry', 'list', '--dir', dir]);
    assert.equal(list.code, 1);
    assert.match(list.stderr, /ERR_REGISTRY_CORRUPT/);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.includes('corrupt')),
      [],
      'list never moves files',
    );
    const sweep = await cli(['registry', 'sweep', '--dir', dir, '--grace-ms', '300']);
    assert.equal(sweep.code, 0, sweep.stderr);
    assert.match(sweep.stderr, /warning: .*unusable.*moved it aside/);
    assert.equal(readdirSync(dir).filter((n) => n.includes('.corrupt-')).length, 1);
  });
});

test('no process carrying this file’s markers is left', () => {
  for (const g of cleanup.groups) assert.deepEqual(groupMembers(g), [], `group ${g} is empty`);
  assertNoneLeft([...markers, ...cleanup.dirs]);
});
