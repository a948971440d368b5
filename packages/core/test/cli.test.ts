/**
 * The `trellis` bin (src/cli/): commands come from the installed @trellis/* packages' package.json,
 * a flagged entry extends another package's command, and `doctor` runs every package's checks and
 * fails when one fails. Run against real package folders written to a temp dir, as an app has them.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../src/cli/index.js';

const BIN = fileURLToPath(new URL('../../bin/trellis.js', import.meta.url));

function app(): { dir: string; pkg(name: string, trellis: object, files: Record<string, string>): void } {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-cli-app-'));
  writeFileSync(join(dir, 'package.json'), '{"name":"app","private":true}');
  return {
    dir,
    pkg(name, trellis, files) {
      const p = join(dir, 'node_modules', '@trellis', name);
      mkdirSync(p, { recursive: true });
      writeFileSync(
        join(p, 'package.json'),
        JSON.stringify({ name: `@trellis/${name}`, version: '9.9.9', trellis }),
      );
      for (const [f, text] of Object.entries(files)) writeFileSync(join(p, f), text);
    },
  };
}

function capture(): {
  out: string[];
  err: string[];
  io: { stdout: { write(s: string): void }; stderr: { write(s: string): void } };
} {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { stdout: { write: (s) => void out.push(s) }, stderr: { write: (s) => void err.push(s) } },
  };
}

describe('trellis bin', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('dispatches to the package that owns the command; a flagged entry extends it', async () => {
    const a = app();
    dirs.push(a.dir);
    const main = (tag: string) =>
      `export async function main(args, io) { io.stdout.write('${tag} ' + args.join(',') + ' ' + io.cwd); return 7; }`;
    a.pkg(
      'observer',
      { commands: { status: { module: './status.js', summary: 'tree' } } },
      { 'status.js': main('observer') },
    );
    a.pkg(
      'cluster',
      { commands: { status: { module: './cs.js', summary: 'cluster view', flag: '--cluster' } } },
      { 'cs.js': main('cluster') },
    );
    const c = capture();
    assert.equal(await runCli(['status', '--json'], { ...c.io, cwd: a.dir }), 7);
    assert.equal(c.out.join(''), `observer --json ${a.dir}`);
    const d = capture();
    assert.equal(await runCli(['status', '--cluster'], { ...d.io, cwd: a.dir }), 7);
    assert.equal(d.out.join(''), `cluster --cluster ${a.dir}`);
    const u = capture();
    assert.equal(await runCli(['nope'], { ...u.io, cwd: a.dir }), 2);
    assert.match(u.err.join(''), /unknown command "nope": no installed @trellis\/\* package provides "nope"/);
    assert.match(u.err.join(''), /status --cluster +cluster view \(@trellis\/cluster\)/);
  });

  test('doctor: every package adds checks; a failing one makes the exit code 1 and prints its fix', () => {
    const a = app();
    dirs.push(a.dir);
    a.pkg(
      'thing',
      { doctor: './doctor.js' },
      {
        'doctor.js': `export const doctorChecks = [
          { name: 'fine', run: () => ({ status: 'ok', detail: 'all good' }) },
          { name: 'broken', run: () => ({ status: 'fail', detail: 'it is missing', fix: 'install it' }) },
        ];`,
      },
    );
    // The real bin, as an app runs it (node_modules/.bin/trellis), from the app's folder.
    const r = spawnSync(process.execPath, [BIN, 'doctor'], {
      cwd: a.dir,
      encoding: 'utf8',
      env: { ...process.env, INIT_CWD: a.dir },
    });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /ok {4}fine/);
    assert.match(r.stdout, /FAIL {2}broken +it is missing\n +fix: install it/);
    assert.match(r.stdout, /node +Node\.js v\d+/);
    assert.match(r.stdout, /checks: 1 failed/);
  });
});
