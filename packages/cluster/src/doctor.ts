/**
 * `trellis doctor` check of the cluster's store (loaded by @trellis/core's doctor through this
 * package's package.json "trellis.doctor"): the etcd endpoints in $TRELLIS_ETCD answer a TCP
 * connection, or, with none set, an etcd binary is installed for a local one.
 */
import { accessSync, constants } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import type { DoctorCheck } from '@trellis/core/cli';

function reachable(endpoint: string, timeoutMs: number): Promise<boolean> {
  const url = new URL(endpoint.includes('://') ? endpoint : `http://${endpoint}`);
  return new Promise((resolve) => {
    const s = connect({ host: url.hostname, port: Number(url.port || 2379) });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

export const doctorChecks: readonly DoctorCheck[] = [
  {
    name: 'etcd',
    run: async (ctx) => {
      const endpoints = (ctx.env.TRELLIS_ETCD ?? '').split(',').filter((e) => e !== '');
      if (endpoints.length > 0) {
        const up = await Promise.all(endpoints.map((e) => reachable(e, 2000)));
        const down = endpoints.filter((_, i) => !up[i]);
        if (down.length === endpoints.length)
          return {
            status: 'fail',
            detail: `no etcd endpoint of TRELLIS_ETCD answers (${down.join(', ')})`,
            fix: 'start etcd (or fix TRELLIS_ETCD=host:2379,...); see docs/cluster.md',
          };
        return {
          status: down.length > 0 ? 'warn' : 'ok',
          detail: `${endpoints.length - down.length}/${endpoints.length} etcd endpoints answer${down.length ? ` (down: ${down.join(', ')})` : ''}`,
          ...(down.length
            ? { fix: 'a cluster needs a majority of its etcd members: bring the others back' }
            : {}),
        };
      }
      for (const dir of (ctx.env.PATH ?? '').split(delimiter)) {
        try {
          accessSync(join(dir, 'etcd'), constants.X_OK);
          return {
            status: 'ok',
            detail: `${join(dir, 'etcd')} (no TRELLIS_ETCD set: nothing to connect to yet)`,
          };
        } catch {}
      }
      return {
        status: 'warn',
        detail: 'no TRELLIS_ETCD and no etcd on PATH: @trellis/cluster needs an etcd to join',
        fix: 'sudo apt-get install -y etcd-server   (or set TRELLIS_ETCD=host:2379 for an existing one)',
      };
    },
  },
];
