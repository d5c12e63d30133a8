import { NodeRole } from '../../../../proto/gen/marquee/cluster/v1/cluster';
import { statusEvents, toView } from '../observer';
import type { NodeView } from '../observer';

const view = (over: Partial<NodeView>): NodeView => ({
  role: 'slave',
  term: 4,
  masterId: 3,
  lamport: 100,
  canServeWrites: false,
  commitIndex: 0,
  appliedIndex: 0,
  etcdLeaseHolder: 0,
  etcdLeaseToken: 0,
  ...over,
});

describe('statusEvents (one node, two polls)', () => {
  it('a first answer is a role event; no change is no event', () => {
    const seen = new Set<string>();
    expect(statusEvents(1, undefined, view({}), 10, seen, false)).toEqual([
      {
        wallMs: 10,
        lamport: 100,
        node: 1,
        kind: 'role',
        role: 'slave',
        term: 4,
        masterId: 3,
        text: 'slave in term 4 (master node 3)',
      },
    ]);
    expect(statusEvents(1, view({}), view({ lamport: 120 }), 60, seen, true)).toEqual([]);
  });

  it("a change of the master's etcd lease holder or token is a note; a slave's view of it is not", () => {
    const seen = new Set<string>();
    const master = view({ role: 'master', term: 5, masterId: 2, canServeWrites: true, etcdLeaseHolder: 3 });
    seen.add('5:2');
    const taken = { ...master, etcdLeaseHolder: 2, etcdLeaseToken: 41 };
    expect(statusEvents(2, master, taken, 10, seen, true).map((e) => [e.kind, e.text])).toEqual([
      ['note', 'etcd lease: held by node 2, fencing token 41'],
    ]);
    expect(
      statusEvents(1, view({}), view({ etcdLeaseHolder: 2, etcdLeaseToken: 41 }), 10, seen, true),
    ).toEqual([]);
  });

  it('a master serving writes in a new term is announced once', () => {
    const seen = new Set<string>();
    const master = view({ role: 'master', term: 5, masterId: 2, canServeWrites: true });
    const first = statusEvents(2, view({ role: 'candidate', term: 5, masterId: 0 }), master, 10, seen, true);
    expect(first.map((e) => [e.kind, e.text])).toEqual([
      ['role', 'master in term 5'],
      ['master', 'master elected in term 5, serving writes'],
    ]);
    expect(statusEvents(2, master, master, 60, seen, true)).toEqual([]);
  });

  it('a master not yet serving writes is a role change, and the master event follows when it serves', () => {
    const seen = new Set<string>();
    const taking = view({ role: 'master', term: 6, masterId: 3 });
    expect(statusEvents(3, view({}), taking, 10, seen, true).map((e) => e.text)).toEqual([
      'master in term 6 (not serving yet)',
    ]);
    expect(
      statusEvents(3, taking, { ...taking, canServeWrites: true }, 60, seen, true).map((e) => e.kind),
    ).toEqual(['master']);
  });

  it('losing and regaining answers', () => {
    const seen = new Set<string>();
    expect(statusEvents(3, view({}), undefined, 10, seen, true).map((e) => e.kind)).toEqual(['unreachable']);
    expect(statusEvents(3, undefined, undefined, 60, seen, true)).toEqual([]);
    expect(statusEvents(3, undefined, view({}), 90, seen, true).map((e) => e.kind)).toEqual([
      'reachable',
      'role',
    ]);
  });

  it('toView maps protobuf roles', () => {
    const base = {
      nodeId: 1,
      term: 2,
      masterId: 1,
      lamport: 7,
      canServeWrites: true,
      commitIndex: 3,
      appliedIndex: 3,
      slaves: [],
      etcdLeaseHolder: 0,
      etcdLeaseToken: 0,
    };
    expect(toView({ ...base, role: NodeRole.NODE_ROLE_MASTER }).role).toBe('master');
    expect(toView({ ...base, role: NodeRole.NODE_ROLE_CANDIDATE }).role).toBe('candidate');
    expect(toView({ ...base, role: NodeRole.NODE_ROLE_SLAVE }).role).toBe('slave');
  });
});
