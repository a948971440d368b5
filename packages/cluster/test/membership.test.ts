/**
 * The membership view's rules, on its own: a new incarnation is a nodeup (after the nodedown of an
 * older one it replaces), a delete of an older incarnation changes nothing, unreachable/reachable
 * are only probe events and never remove a member, and a reset emits exactly the difference.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Member, Membership, type NodeEvent } from '../src/index.js';

const m = (node: string, incarnation: number): Member => ({
  node,
  incarnation,
  address: `127.0.0.1:${7000 + incarnation}`,
  host: 'h',
  pid: 1,
  startedAt: 0,
});

describe('Membership', () => {
  test('incarnations: up, replaced, down; a stale delete is ignored', () => {
    const ev: NodeEvent[] = [];
    const v = new Membership((e) => ev.push(e));
    v.put(m('a', 5));
    v.put({ ...m('a', 5), address: 'moved:1' }); // same incarnation: an update, no event
    assert.equal(v.get('a')?.address, 'moved:1');
    v.put(m('a', 9)); // a new incarnation we saw before the old one's delete
    v.delete('a', 5); // the old incarnation's delete arrives late: nothing
    assert.equal(v.get('a')?.incarnation, 9);
    v.delete('a', 9);
    assert.deepEqual(
      ev.map((e) => `${e.type}:${e.node}:${e.incarnation}`),
      ['nodeup:a:5', 'nodedown:a:5', 'nodeup:a:9', 'nodedown:a:9'],
    );
    assert.deepEqual(v.list(), []);
  });

  test('unreachable is not down: probes only emit unreachable/reachable, once per change', () => {
    const ev: NodeEvent[] = [];
    const v = new Membership((e) => ev.push(e));
    v.put(m('b', 3));
    v.probed('b', false);
    v.probed('b', false);
    assert.equal(v.isUnreachable('b'), true);
    assert.equal(v.get('b')?.incarnation, 3, 'still a member');
    v.probed('b', true);
    v.probed('b', true);
    v.probed('ghost', false); // not a member: nothing
    assert.deepEqual(
      ev.map((e) => e.type),
      ['nodeup', 'unreachable', 'reachable'],
    );
  });

  test('reset emits the difference only', () => {
    const ev: NodeEvent[] = [];
    const v = new Membership((e) => ev.push(e));
    v.reset([m('a', 1), m('b', 2)]);
    ev.length = 0;
    v.reset([m('a', 1), m('b', 7), m('c', 8)]);
    assert.deepEqual(
      ev.map((e) => `${e.type}:${e.node}:${e.incarnation}`),
      ['nodedown:b:2', 'nodeup:b:7', 'nodeup:c:8'],
    );
  });
});
