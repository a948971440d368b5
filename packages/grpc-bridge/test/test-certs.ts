/**
 * Certificates for the bridge's mTLS tests, made with openssl in a temp dir: a CA, a node
 * certificate it signed (DNS name trellis-node in its SANs, server and client auth, as
 * `trellis certs issue` makes them), and a second CA with a certificate of its own. Made here rather
 * than with @trellis/cluster's certs helpers: the cluster package depends on this one.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  readonly dir: string;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly otherCert: string;
  readonly otherKey: string;
  read(file: string): Buffer;
  remove(): void;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe', timeout: 30_000 });
}

function makeCa(dir: string, name: string): { cert: string; key: string } {
  const cnf = join(dir, `${name}.cnf`);
  writeFileSync(
    cnf,
    `[req]\ndistinguished_name=dn\nx509_extensions=v3_ca\nprompt=no\n[dn]\nCN=${name}\n[v3_ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n`,
  );
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.pem`);
  openssl(dir, 'ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key);
  openssl(dir, 'req', '-x509', '-new', '-key', key, '-config', cnf, '-days', '2', '-out', cert);
  return { cert, key };
}

function makeLeaf(
  dir: string,
  name: string,
  ca: { cert: string; key: string },
): { cert: string; key: string } {
  const ext = join(dir, `${name}.ext`);
  writeFileSync(
    ext,
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:trellis-node\n',
  );
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.pem`);
  openssl(dir, 'ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key);
  openssl(dir, 'req', '-new', '-key', key, '-subj', `/CN=${name}`, '-out', csr);
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.cert,
    '-CAkey',
    ca.key,
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    ext,
    '-out',
    cert,
  );
  return { cert, key };
}

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-test-certs-'));
  try {
    const ca = makeCa(dir, 'ca');
    const node = makeLeaf(dir, 'node', ca);
    const other = makeLeaf(dir, 'intruder', makeCa(dir, 'other-ca'));
    return {
      dir,
      ca: ca.cert,
      cert: node.cert,
      key: node.key,
      otherCert: other.cert,
      otherKey: other.key,
      read: (file) => readFileSync(file),
      remove: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}
