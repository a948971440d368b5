/**
 * `trellis doctor`: checks what a Trellis app needs on this machine and prints each problem with the
 * command that fixes it. Exit code 1 when a check failed, 0 otherwise (warnings do not fail).
 *
 * The checks come from the installed packages (each package knows what it needs: the bridge checks
 * Python and the SDK, the registry its directory, the observer Chromium); core checks Node itself.
 * A package lists its doctor module in package.json (`"trellis": { "doctor": "./dist/src/doctor.js" }`,
 * see ./commands.ts), which exports `doctorChecks: DoctorCheck[]`.
 */
import { pathToFileURL } from 'node:url';
import { findTrellisPackages } from './commands.js';
import { cliStreams } from './streams.js';

export type DoctorStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface DoctorFinding {
  readonly status: DoctorStatus;
  /** What was found (a version, a path...). */
  readonly detail: string;
  /** For warn/fail: the command or step that fixes it, in the user's setting. */
  readonly fix?: string;
}

export interface DoctorContext {
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface DoctorCheck {
  readonly name: string;
  run(ctx: DoctorContext): Promise<DoctorFinding> | DoctorFinding;
}

export interface DoctorIo {
  readonly stdout: { write(s: string): unknown };
  readonly stderr: { write(s: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

/** The Node.js versions CI runs the whole suite on (README, "Supported versions"). */
export const TESTED_NODE_MAJORS: readonly number[] = [20, 24];
const MIN_NODE: readonly [number, number] = [20, 19];

export const nodeCheck: DoctorCheck = {
  name: 'node',
  run: () => {
    const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
    const detail = `Node.js ${process.version} (${process.execPath})`;
    if (major < MIN_NODE[0] || (major === MIN_NODE[0] && minor < MIN_NODE[1]))
      return {
        status: 'fail',
        detail,
        fix: `install Node.js 22 or 24 LTS (Trellis needs >= ${MIN_NODE.join('.')})`,
      };
    if (major === 20)
      return {
        status: 'warn',
        detail: `${detail}: Node 20 reached end of life in April 2026`,
        fix: 'move to Node.js 24 LTS (Trellis is tested on 20 and 24)',
      };
    return { status: 'ok', detail };
  },
};

const MARK: Record<DoctorStatus, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL', skip: 'skip' };

export async function main(args: readonly string[], io: Partial<DoctorIo> = {}): Promise<number> {
  const out: DoctorIo = cliStreams(io);
  const json = args.includes('--json');
  const checks: { owner: string; check: DoctorCheck }[] = [{ owner: '@trellis/core', check: nodeCheck }];
  for (const p of findTrellisPackages(out.cwd)) {
    if (p.doctor === undefined) continue;
    try {
      const mod = (await import(pathToFileURL(p.doctor).href)) as { doctorChecks?: readonly DoctorCheck[] };
      for (const check of mod.doctorChecks ?? []) checks.push({ owner: p.name, check });
    } catch (err) {
      checks.push({
        owner: p.name,
        check: {
          name: `${p.name} doctor`,
          run: () => ({
            status: 'fail',
            detail: `cannot load ${p.doctor}: ${(err as Error).message}`,
            fix: `reinstall ${p.name} (npm i ${p.name} / pnpm add ${p.name})`,
          }),
        },
      });
    }
  }
  const ctx: DoctorContext = { cwd: out.cwd, env: out.env };
  const results: { owner: string; name: string; finding: DoctorFinding }[] = [];
  for (const { owner, check } of checks) {
    let finding: DoctorFinding;
    try {
      finding = await check.run(ctx);
    } catch (err) {
      finding = { status: 'fail', detail: `the check itself failed: ${(err as Error).message}` };
    }
    results.push({ owner, name: check.name, finding });
    if (!json) {
      out.stdout.write(`${MARK[finding.status]}  ${check.name.padEnd(14)} ${finding.detail}\n`);
      if (finding.fix !== undefined && (finding.status === 'fail' || finding.status === 'warn'))
        out.stdout.write(`      ${''.padEnd(14)} fix: ${finding.fix}\n`);
    }
  }
  const failed = results.filter((r) => r.finding.status === 'fail').length;
  const warned = results.filter((r) => r.finding.status === 'warn').length;
  if (json) out.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  else out.stdout.write(`\n${results.length} checks: ${failed} failed, ${warned} warnings\n`);
  return failed > 0 ? 1 : 0;
}
