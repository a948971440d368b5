/**
 * `pnpm trellis certs init [--dir <dir>] [--days <n>] [--force]` and
 * `pnpm trellis certs issue <node> [--dir <dir>] [--dns <name,...>] [--days <n>]`: the cluster CA and
 * the node certificates for mTLS between nodes (certs.ts does the work; this only parses arguments).
 */
import { cliStreams } from '@trellis/core/cli';
import { type ClusterCliIo, csv, parseCliFlags, wholeFlag } from '../cli-flags.js';
import { initClusterCa, issueNodeCert } from './certs.js';

const USAGE =
  'usage: pnpm trellis certs init [--dir <dir>] [--days <n>] [--force]\n' +
  '       pnpm trellis certs issue <node> [--dir <dir>] [--dns <name,...>] [--days <n>]\n' +
  '  --dir defaults to $TRELLIS_HOME/certs (else ./.trellis/certs); keys are written mode 0600\n';

const FLAGS = {
  dir: { type: 'string' },
  days: { type: 'string' },
  dns: { type: 'string', multiple: true },
  force: { type: 'boolean' },
} as const;

export async function main(args: string[], io: ClusterCliIo = {}): Promise<number> {
  const { stdout: out, stderr: err, env, cwd } = cliStreams(io);
  const parsed = parseCliFlags(args, FLAGS, { stdout: out, stderr: err }, USAGE, true);
  if (parsed === 'help') return 0;
  if (parsed === undefined) return 2;
  const [sub, ...positional] = parsed.positionals;
  const { dir, force } = parsed.values;
  const dns = (parsed.values.dns ?? []).flatMap((d) => csv(d));
  const days = wholeFlag(parsed.values.days);
  if (Number.isNaN(days)) {
    err.write(`--days must be a whole number >= 1\n${USAGE}`);
    return 2;
  }
  const where = { dir, env, cwd };
  try {
    if (sub === 'init') {
      if (positional.length > 0) {
        err.write(`unexpected "${positional[0]}"\n${USAGE}`);
        return 2;
      }
      const ca = await initClusterCa({ ...where, days, force: force === true });
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
