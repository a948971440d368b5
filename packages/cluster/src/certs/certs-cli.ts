/**
 * `pnpm trellis certs init [--dir <dir>] [--days <n>] [--force]` and
 * `pnpm trellis certs issue <node> [--dir <dir>] [--dns <name,...>] [--days <n>]`: the cluster CA and
 * the node certificates for mTLS between nodes (certs.ts does the work; this only parses arguments).
 */
import { initClusterCa, issueNodeCert } from './certs.js';

export interface CliIo {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly stdout?: { write(s: string): unknown };
  readonly stderr?: { write(s: string): unknown };
}

const USAGE =
  'usage: pnpm trellis certs init [--dir <dir>] [--days <n>] [--force]\n' +
  '       pnpm trellis certs issue <node> [--dir <dir>] [--dns <name,...>] [--days <n>]\n' +
  '  --dir defaults to $TRELLIS_HOME/certs (else ./.trellis/certs); keys are written mode 0600\n';

export async function main(args: string[], io: CliIo = {}): Promise<number> {
  const out = io.stdout ?? process.stdout;
  const err = io.stderr ?? process.stderr;
  const [sub, ...rest] = args;
  let dir: string | undefined;
  let days: number | undefined;
  let force = false;
  const dns: string[] = [];
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === '--dir') dir = rest[++i];
    else if (a === '--days') days = Number(rest[++i]);
    else if (a === '--dns') dns.push(...(rest[++i] ?? '').split(',').filter((s) => s !== ''));
    else if (a === '--force') force = true;
    else if (a === '--help' || a === '-h') {
      out.write(USAGE);
      return 0;
    } else if (a.startsWith('--')) {
      err.write(`unknown argument "${a}"\n${USAGE}`);
      return 2;
    } else positional.push(a);
  }
  if (days !== undefined && !(Number.isInteger(days) && days >= 1)) {
    err.write(`--days must be a whole number >= 1\n${USAGE}`);
    return 2;
  }
  const where = { dir, env: io.env, cwd: io.cwd };
  try {
    if (sub === 'init') {
      if (positional.length > 0) {
        err.write(`unexpected "${positional[0]}"\n${USAGE}`);
        return 2;
      }
      const ca = await initClusterCa({ ...where, days, force });
      out.write(`cluster CA written: ${ca.cert} (key ${ca.key}, mode 0600)\n`);
      out.write('next: pnpm trellis certs issue <node> for every node (same --dir)\n');
      return 0;
    }
    if (sub === 'issue') {
      if (positional.length !== 1) {
        err.write(`certs issue takes one node name\n${USAGE}`);
        return 2;
      }
      const c = await issueNodeCert(positional[0]!, { ...where, days, dnsNames: dns });
      out.write(
        `certificate of node "${c.node}" written: ${c.cert} (key ${c.key}, mode 0600), DNS names ${c.dnsNames.join(', ')}, CA ${c.ca}\n`,
      );
      return 0;
    }
    err.write(`${sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`}\n${USAGE}`);
    return 2;
  } catch (e) {
    err.write(`${(e as Error).message}\n`);
    return 1;
  }
}
