/**
 * Validation of a Launch request before anything is spawned. The request comes from another node
 * over mTLS, so it is trusted as to who sent it, not as to its shape: a malformed one (another
 * version, a bug, a fuzzer) is refused with ERR_AGENT_REFUSED naming the field, never thrown into
 * grpc-js or passed to the Python command line.
 */
import { AgentRefusedError } from '../errors.js';
import type { LaunchReq } from './agent-wire.js';

const NAME_RE = /^[A-Za-z0-9_.:@-]{1,200}$/;
const ENV_RE = /^[A-Za-z_][A-Za-z0-9_]{0,200}$/;

function bad(agent: string, field: string, what: string): never {
  throw new AgentRefusedError(
    agent,
    `malformed request: ${field} ${what}`,
    'the client and the agent must run the same Trellis version',
  );
}

function int(agent: string, v: unknown, field: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    bad(agent, field, `must be a whole number from ${min} to ${max}`);
  return v;
}

export function checkLaunchReq(agent: string, raw: unknown): LaunchReq {
  const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const o = (typeof r.owner === 'object' && r.owner !== null ? r.owner : {}) as Record<string, unknown>;
  const l = (typeof r.launch === 'object' && r.launch !== null ? r.launch : {}) as Record<string, unknown>;
  if (typeof o.node !== 'string' || !NAME_RE.test(o.node)) bad(agent, 'owner.node', 'is not a node name');
  int(agent, o.incarnation, 'owner.incarnation', 1, Number.MAX_SAFE_INTEGER);
  if (typeof o.pool !== 'string' || !NAME_RE.test(o.pool)) bad(agent, 'owner.pool', 'is not a pool name');
  if (l.pool !== o.pool) bad(agent, 'launch.pool', 'differs from owner.pool');
  int(agent, l.slot, 'launch.slot', 0, 1_000_000);
  const tools = l.tools;
  if (
    !Array.isArray(tools) ||
    tools.length === 0 ||
    tools.length > 100 ||
    !tools.every((t) => typeof t === 'string' && t.length > 0 && t.length < 4096 && !t.includes(','))
  )
    bad(agent, 'launch.tools', 'must be 1 to 100 module names or paths');
  if (l.python !== undefined && (typeof l.python !== 'string' || l.python.length === 0))
    bad(agent, 'launch.python', 'must be a path or a command name');
  int(agent, l.concurrency, 'launch.concurrency', 1, 10_000);
  int(agent, l.maxMessageBytes, 'launch.maxMessageBytes', 1024, 2 ** 31 - 1);
  int(agent, l.graceMs, 'launch.graceMs', 0, 600_000);
  int(agent, l.startTimeoutMs, 'launch.startTimeoutMs', 1, 600_000);
  if (l.maxRssMb !== undefined && l.maxRssMb !== null && !(typeof l.maxRssMb === 'number' && l.maxRssMb > 0))
    bad(agent, 'launch.maxRssMb', 'must be a positive number');
  const env = l.env;
  if (
    typeof env !== 'object' ||
    env === null ||
    Object.entries(env).some(([k, v]) => !ENV_RE.test(k) || typeof v !== 'string' || v.includes('\0'))
  )
    bad(agent, 'launch.env', 'must map variable names to strings');
  if (typeof l.secret !== 'string' || l.secret.length < 16 || l.secret.length > 256)
    bad(agent, 'launch.secret', 'must be the pool secret (16 to 256 characters)');
  if (l.hostAddress !== undefined && l.hostAddress !== null && typeof l.hostAddress !== 'string')
    bad(agent, 'launch.hostAddress', 'must be host:port');
  return {
    owner: { node: o.node, incarnation: o.incarnation as number, pool: o.pool },
    launch: {
      pool: o.pool,
      slot: l.slot as number,
      tools: tools as string[],
      python: l.python as string | undefined,
      concurrency: l.concurrency as number,
      maxMessageBytes: l.maxMessageBytes as number,
      graceMs: l.graceMs as number,
      startTimeoutMs: l.startTimeoutMs as number,
      maxRssMb: (l.maxRssMb ?? undefined) as number | undefined,
      env: env as Record<string, string>,
      secret: l.secret,
      hostAddress: (l.hostAddress ?? undefined) as string | undefined,
    },
  };
}
