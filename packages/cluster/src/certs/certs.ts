/**
 * The cluster's certificates: one CA (P-256) per cluster, and one certificate per node signed by it,
 * for mTLS between nodes (`tls: { ca, cert, key }` of the cluster option).
 *
 * Why openssl (a child process) rather than an npm library: Debian ships it (the tests already make
 * certificates with it, cluster-notes.md), it is the tool operators audit and rotate with, and it
 * keeps a crypto/ASN.1 dependency (e.g. @peculiar/x509 and its webcrypto polyfill chain) out of
 * every app that only runs nodes. Node's own crypto can make keys but cannot sign certificates.
 *
 * Node certificates carry DNS names only in their SANs: `trellis-node` (what nodes check when they
 * dial each other by IP, with the target name overridden, since a TLS servername that is an IP
 * triggers Node's DEP0123 warning), the node's name, and any extra names. Keys are written 0600.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ClusterCertsError } from '../errors.js';
import type { NodeTlsOptions } from '../node/wire.js';

const run = promisify(execFile);

/** The DNS name every node certificate carries and nodes check by default (see wire.ts). */
export const DEFAULT_NODE_DNS_NAME = 'trellis-node';

const NODE_RE = /^[A-Za-z0-9_.-]{1,200}$/;
const DNS_RE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/;

export interface CertsDirOptions {
  /** Where the files go (default `$TRELLIS_HOME/certs`, else `<cwd>/.trellis/certs`). */
  readonly dir?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/** The default certificate directory: under the Trellis home, by @trellis/home's rule. */
export function defaultCertsDir(o: CertsDirOptions = {}): string {
  if (o.dir !== undefined) return resolve(o.cwd ?? process.cwd(), o.dir);
  const env = o.env ?? process.env;
  const home = env.TRELLIS_HOME ?? join(o.cwd ?? process.cwd(), '.trellis');
  return resolve(o.cwd ?? process.cwd(), home, 'certs');
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  try {
    await run('openssl', [...args], { cwd, timeout: 30_000 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT')
      throw new ClusterCertsError(
        'openssl is not installed or not on PATH; install it (Debian: apt-get install openssl) and run the command again',
        e,
      );
    throw new ClusterCertsError(`openssl ${args[0]} failed: ${(err.stderr ?? err.message).trim()}`, e);
  }
}

function writeConfig(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
}

export interface CaFiles {
  readonly dir: string;
  readonly cert: string;
  readonly key: string;
}

/**
 * `trellis certs init`: a new cluster CA (EC P-256, `ca.pem` and `ca.key` mode 0600) in `dir`.
 * Refuses to overwrite an existing CA unless `force` (every node certificate it signed would stop
 * working).
 */
export async function initClusterCa(
  o: CertsDirOptions & { readonly days?: number; readonly force?: boolean; readonly name?: string } = {},
): Promise<CaFiles> {
  const dir = defaultCertsDir(o);
  const cert = join(dir, 'ca.pem');
  const key = join(dir, 'ca.key');
  if (!o.force && (existsSync(cert) || existsSync(key)))
    throw new ClusterCertsError(
      `a cluster CA already exists in ${dir}; keep it (issue node certificates with it), pass --force to replace it (every node certificate it signed stops working), or use another --dir`,
    );
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const days = o.days ?? 3650;
  const cnf = join(dir, '.ca.cnf');
  // basicConstraints CA:TRUE and keyCertSign: Node (OpenSSL 3) refuses a chain whose CA lacks them.
  writeConfig(
    cnf,
    '[req]\ndistinguished_name=dn\nx509_extensions=v3_ca\nprompt=no\n[dn]\nCN=' +
      (o.name ?? 'trellis-cluster-ca') +
      '\n[v3_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n',
  );
  try {
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], dir);
    chmodSync(key, 0o600);
    await openssl(
      ['req', '-x509', '-new', '-key', key, '-config', cnf, '-days', String(days), '-out', cert],
      dir,
    );
  } finally {
    rmSync(cnf, { force: true });
  }
  return { dir, cert, key };
}

export interface NodeCertFiles {
  readonly dir: string;
  readonly node: string;
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
  readonly dnsNames: readonly string[];
}

/**
 * `trellis certs issue <node>`: a certificate for `node` signed by the CA in `dir` (`<node>.pem`,
 * `<node>.key` mode 0600), for both server and client auth, with DNS names only in its SANs:
 * `trellis-node`, the node's name when it is a valid DNS name, and `dnsNames`.
 */
export async function issueNodeCert(
  node: string,
  o: CertsDirOptions & { readonly dnsNames?: readonly string[]; readonly days?: number } = {},
): Promise<NodeCertFiles> {
  if (!NODE_RE.test(node) || node.startsWith('.'))
    throw new ClusterCertsError(
      `node name ${JSON.stringify(node)} cannot name a certificate file; use 1 to 200 characters from A-Z a-z 0-9 _ . - (not starting with .)`,
    );
  const dir = defaultCertsDir(o);
  const ca = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  if (!existsSync(ca) || !existsSync(caKey))
    throw new ClusterCertsError(
      `no cluster CA in ${dir} (ca.pem and ca.key); run \`trellis certs init\` first (with the same --dir)`,
    );
  const names = [DEFAULT_NODE_DNS_NAME, ...(DNS_RE.test(node) ? [node] : []), ...(o.dnsNames ?? [])];
  for (const n of names)
    if (!DNS_RE.test(n))
      throw new ClusterCertsError(
        `${JSON.stringify(n)} is not a DNS name; SANs hold DNS names only (dialing by IP triggers Node's DEP0123 warning: dial by IP and override the target name instead)`,
      );
  const dnsNames = [...new Set(names)];
  const cert = join(dir, `${node}.pem`);
  const key = join(dir, `${node}.key`);
  const csr = join(dir, `.${node}.csr`);
  const ext = join(dir, `.${node}.ext`);
  writeConfig(
    ext,
    `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${dnsNames.map((n) => `DNS:${n}`).join(',')}\n`,
  );
  try {
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key], dir);
    chmodSync(key, 0o600);
    await openssl(['req', '-new', '-key', key, '-subj', `/CN=${node}`, '-out', csr], dir);
    await openssl(
      [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        ca,
        '-CAkey',
        caKey,
        '-CAcreateserial',
        '-days',
        String(o.days ?? 825),
        '-extfile',
        ext,
        '-out',
        cert,
      ],
      dir,
    );
  } finally {
    rmSync(csr, { force: true });
    rmSync(ext, { force: true });
  }
  return { dir, node, cert, key, ca, dnsNames };
}

/** The `tls` option of a node from the files `issueNodeCert` wrote. */
export function readNodeTls(node: string, o: CertsDirOptions = {}): NodeTlsOptions {
  const dir = defaultCertsDir(o);
  try {
    return {
      ca: readFileSync(join(dir, 'ca.pem')),
      cert: readFileSync(join(dir, `${node}.pem`)),
      key: readFileSync(join(dir, `${node}.key`)),
    };
  } catch (e) {
    throw new ClusterCertsError(
      `cannot read the certificate of node "${node}" in ${dir} (${(e as Error).message}); run \`trellis certs issue ${node}\` (with the same --dir)`,
      e,
    );
  }
}
