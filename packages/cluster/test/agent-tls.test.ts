/**
 * Agents under mTLS (issue 15): `trellis agent --certs <dir>` as its own process. A pool placed on it
 * calls its worker over mTLS (the worker serves with the agent's certificate and takes only clients
 * of the cluster's CA) and the worker reaches the pool's host tools over the pool's TLS listener.
 * The Agent service refuses clients without a CA-signed, valid certificate: none, another CA's, an
 * expired one. Each is ERR_TLS_REFUSED with the reason on the client (not grpc-js's bare
 * UNAVAILABLE), and a `tls_refused` record in the agent's log.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ServiceError, status } from '@grpc/grpc-js';
import { createToolClient, ToolPool } from '@trellis/grpc-bridge';
import { AgentConnection } from '../src/agent/agent-client.js';
import { ClusterNode, type LocalEtcd, readNodeTls } from '../src/index.js';
import { AGENT_TOOLS, issueExpiredCert, launchReq, startAgentProcess, tempHome } from './agent-helpers.js';
import { Cleanup, waitFor } from './helpers.js';

const TRELLIS_BIN = fileURLToPath(new URL('../../../core/bin/trellis.js', import.meta.url));

const cleanup = new Cleanup();
let etcd: LocalEtcd;
let dir: string;
before(async () => {
  etcd = await cleanup.etcd();
  dir = mkdtempSync(join(tmpdir(), 'trellis-agent-certs-'));
  cleanup.add(() => rmSync(dir, { recursive: true, force: true }));
  const trellis = (args: string[]) => execFileSync(process.execPath, [TRELLIS_BIN, ...args], { cwd: dir });
  const main = join(dir, 'main');
  const other = join(dir, 'other');
  trellis(['certs', 'init', '--dir', main]);
  trellis(['certs', 'issue', 'agent-1', '--dir', main]);
  trellis(['certs', 'issue', 'client', '--dir', main]);
  trellis(['certs', 'init', '--dir', other]);
  trellis(['certs', 'issue', 'client', '--dir', other]);
  issueExpiredCert(main);
});
after(() => cleanup.run());

describe('the Agent service under mTLS', () => {
  test('a pool placed on a TLS agent: calls and host tools over mTLS; the worker refuses other clients', async () => {
    const main = join(dir, 'main');
    const cluster = `agenttlspool${process.pid}`;
    await startAgentProcess(
      cleanup,
      ['--cluster', cluster, '--etcd', etcd.endpoints.join(','), '--node', 'agent-1', '--certs', main],
      { TRELLIS_HOME: tempHome(cleanup) },
    );
    const client = await ClusterNode.start({
      etcd: etcd.endpoints,
      name: cluster,
      node: 'client',
      memberTtlMs: 1000,
      probeIntervalMs: 200,
      tls: readNodeTls('client', { dir: main }),
    });
    cleanup.add(() => client.stop());
    await waitFor(() => client.membership.get('agent-1'), 'the agent in the client view');
    const pool = new ToolPool({
      tools: AGENT_TOOLS,
      name: 'tls-pool',
      placement: { nodes: ['agent-1'], perNode: 1 },
    });
    pool.exposeHostTool('upper', { type: 'object', properties: { text: { type: 'string' } } }, (a) =>
      String((a as { text: string }).text).toUpperCase(),
    );
    await pool.start();
    cleanup.add(() => pool.stop());
    const w = pool.stats().workers[0]!;
    assert.equal(w.node, 'agent-1');
    assert.equal(((await pool.call('whoami', {})) as { pid: number }).pid, w.pid);
    // ctx.call_host_tool from the agent's worker reaches this node's pool, over the pool's TLS listener.
    assert.equal(await pool.call('ask_host', { tool: 'upper', args: { text: 'from afar' } }), 'FROM AFAR');
    // The worker itself takes only clients of the cluster's CA (the secret alone is not enough).
    const describe = (tls: Parameters<typeof createToolClient>[3]) => {
      const c = createToolClient(w.address, 1 << 20, pool.workerSecret(), tls);
      return new Promise<number>((resolve) =>
        c.Describe({}, { deadline: new Date(Date.now() + 5000) }, (err: ServiceError | null) => {
          c.close();
          resolve(err === null ? 0 : err.code);
        }),
      ).finally(() => c.close());
    };
    const foreign = readNodeTls('client', { dir: join(dir, 'other') });
    const ca = readFileSync(join(main, 'ca.pem'));
    assert.equal(await describe(undefined), status.UNAVAILABLE, 'plain TCP refused');
    assert.equal(await describe({ ca, cert: foreign.cert, key: foreign.key }), status.UNAVAILABLE);
    assert.equal(
      await describe({ ...readNodeTls('client', { dir: main }) }),
      0,
      'the cluster certificate taken',
    );
    await pool.stop();
  });

  test('refuses no certificate, another CA, an expired one with ERR_TLS_REFUSED; takes the issued one', async () => {
    const main = join(dir, 'main');
    const agent = await startAgentProcess(
      cleanup,
      [
        '--cluster',
        `agenttls${process.pid}`,
        '--etcd',
        etcd.endpoints.join(','),
        '--node',
        'agent-1',
        '--certs',
        main,
      ],
      { TRELLIS_HOME: tempHome(cleanup) },
    );
    const ca = readFileSync(join(main, 'ca.pem'));
    const own = readNodeTls('client', { dir: main });
    const foreign = readNodeTls('client', { dir: join(dir, 'other') });
    const cases: [string, { ca: Buffer; cert?: Buffer; key?: Buffer }, RegExp, RegExp][] = [
      ['no certificate', { ca }, /no client certificate|certificate required/, /presented no certificate/],
      [
        'another CA',
        { ca, cert: foreign.cert, key: foreign.key },
        /not signed by the cluster CA/,
        /UNABLE_TO_VERIFY_LEAF_SIGNATURE/,
      ],
      [
        'expired',
        { ca, cert: readFileSync(join(main, 'expired.pem')), key: own.key },
        /expired/,
        /CERT_HAS_EXPIRED/,
      ],
    ];
    const owner = { node: 'client', incarnation: 1 };
    for (const [what, tls, reason, agentReason] of cases) {
      const seen = agent.child.lines.length;
      const conn = new AgentConnection('agent-1', agent.ready.address, tls as never);
      try {
        await assert.rejects(
          conn.launch(launchReq(owner), 10_000),
          (e: Error & { code?: string; details?: { reason?: string } }) => {
            assert.equal(e.code, 'ERR_TLS_REFUSED', `${what}: ${e.message}`);
            assert.match(e.details?.reason ?? '', reason, what);
            return true;
          },
        );
      } finally {
        conn.close();
      }
      // The agent logged the refusal as one, with Node's verification error.
      const rec = await waitFor(
        // Records of the case before may still arrive (grpc-js redials): find this case's reason.
        () =>
          agent.child.lines
            .slice(seen)
            .find((m) => m.event === 'tls_refused' && agentReason.test(String(m.reason))),
        `${what}: the agent's tls_refused record`,
        5000,
      );
      assert.equal(rec.level, 'warn');
      assert.match(String(rec.reason), agentReason, what);
    }
    // The issued certificate is taken: the agent answers (here: it knows no such worker).
    const conn = new AgentConnection('agent-1', agent.ready.address, own);
    try {
      await assert.rejects(new Promise((res, rej) => conn.watch('no-such-worker', 100, res, rej)), {
        code: 'ERR_AGENT_NO_WORKER',
      });
    } finally {
      conn.close();
    }
  });
});
