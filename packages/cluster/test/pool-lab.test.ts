/**
 * The PoolLab harness itself (pool-lab.ts), on which the 3-node pool tests and `pnpm bench cluster`
 * stand: that a call crosses the veth from the client namespace to a node's namespace with mTLS
 * (and is refused without a client certificate), that Python processes are counted per "machine"
 * (an escaped one included), that partitions cut exactly what they say, and that stop() leaves no
 * namespace, process or temp dir behind. Needs root (CI runs as root).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { isProcessAlive } from '@trellis/core';
import { startBareServer } from '../bench/pool.js';
import { waitFor } from './helpers.js';
import { PoolLab, poolLabAvailable, repoPython } from './pool-lab.js';

const skip = poolLabAvailable();
let lab: PoolLab | undefined;

describe('pool lab: namespaces as machines', { skip }, () => {
  after(async () => {
    await lab?.stop();
  });

  test('mTLS over the veth, Python counted per node, partitions, nothing left after stop()', async () => {
    lab = await PoolLab.start({ agents: ['a1', 'a2', 'a3'] });
    const tlsAddr = await startBareServer(lab, 'a1', 7500, true);
    const plainAddr = await startBareServer(lab, 'a2', 7501, false);
    assert.ok(tlsAddr.startsWith(`${lab.addr('a1')}:`), tlsAddr);
    const client = await lab.startClient();
    const ask = (cmd: Record<string, unknown>) => lab!.ask(client, cmd);

    assert.equal(
      (await ask({ op: 'raw-connect', key: 'tls', address: tlsAddr, tls: lab.tls('client') })).ok,
      true,
    );
    assert.deepEqual((await ask({ op: 'raw-call', key: 'tls', payload: { n: 1 } })).value, { n: 1 });
    assert.equal((await ask({ op: 'raw-connect', key: 'plain', address: plainAddr })).ok, true);
    // No client certificate (plain TCP to the TLS port): refused, and grpc-js says only UNAVAILABLE.
    await ask({ op: 'raw-connect', key: 'nocert', address: tlsAddr, wait: false });
    const refused = await ask({ op: 'raw-call', key: 'nocert', payload: {}, timeoutMs: 3000 });
    assert.equal(refused.ok, false);
    assert.equal(refused.code, 14, JSON.stringify(refused));

    // One Python process on a1 and on a2, none on a3; then one that escapes its parent with setsid.
    assert.deepEqual(lab.pythonCounts(), { a1: 1, a2: 1, a3: 0 });
    const { first } = await lab.spawnIn('a3', [
      'sh',
      '-c',
      `(setsid ${repoPython()} -c "import time; time.sleep(120)" trellis-test-marker >/dev/null 2>&1 &); echo started`,
    ]);
    assert.equal(first, 'started');
    // (`started` may come before setsid has exec'd Python.)
    const escaped = await waitFor(() => {
      const pids = lab!.pythonPids('a3');
      return pids.length > 0 && pids;
    }, 'the escaped Python process on a3');
    assert.equal(escaped.length, 1, 'the escaped Python process counts on its node');

    // nft drop between a1 and the client only: a1 is cut from the caller, a2 is not.
    lab.block('a1', ['client']);
    const cut = await ask({ op: 'raw-call', key: 'tls', payload: { n: 2 }, timeoutMs: 1000 });
    assert.equal(cut.ok, false, 'a call across the nft drop fails');
    assert.equal(cut.code, 4, JSON.stringify(cut)); // DEADLINE_EXCEEDED: the packets vanish
    assert.deepEqual((await ask({ op: 'raw-call', key: 'plain', payload: { n: 3 } })).value, { n: 3 });
    lab.block('a1', []);
    assert.deepEqual(
      (await ask({ op: 'raw-call', key: 'tls', payload: { n: 4 }, timeoutMs: 10_000 })).value,
      {
        n: 4,
      },
    );
    // Link down: a2 cut from everyone, then healed.
    lab.cut('a2');
    const down = await ask({ op: 'raw-call', key: 'plain', payload: { n: 5 }, timeoutMs: 1000 });
    assert.equal(down.ok, false);
    lab.cut('a2', false);
    assert.deepEqual(
      (await ask({ op: 'raw-call', key: 'plain', payload: { n: 6 }, timeoutMs: 10_000 })).value,
      {
        n: 6,
      },
    );

    const certs = lab.dir;
    const id = lab.lab.id;
    const orphans = await lab.stop();
    assert.deepEqual(orphans, escaped, 'stop() found and killed exactly the escaped process');
    const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.includes(`trl-s15c-${id}-`));
    assert.deepEqual(left, [], 'no namespace of the lab left');
    assert.equal(existsSync(certs), false, 'the lab dir is removed');
    for (const pid of escaped) assert.equal(isProcessAlive(pid), false, 'the escaped process is gone');
  });
});
