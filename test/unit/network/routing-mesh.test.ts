import { describe, expect, it } from 'vitest';
import { MESH_CT_MARK, meshRuleset } from '../../../agent/network/routing-mesh.js';
import type { MeshPort } from '../../../lib/index.js';

const port = (o: Partial<MeshPort>): MeshPort => ({
  protocol: 'tcp',
  publishedPort: 8080,
  targetPort: 80,
  keepClientAddress: false,
  backends: [],
  ...o,
});

const program = (ports: MeshPort[]) => ({ bridge: 'br-ing', address: '10.0.0.250', nodeId: 'n1', ports });

describe('routing mesh rules on a node', () => {
  it('forwards a published port to every serving task, from the node’s ingress address', () => {
    const text = meshRuleset(
      program([
        port({
          backends: [
            { ip: '10.0.0.3', nodeId: 'n2' },
            { ip: '10.0.0.4', nodeId: 'n1' },
          ],
        }),
        port({
          protocol: 'udp',
          publishedPort: 53,
          targetPort: 5353,
          backends: [{ ip: '10.0.0.5', nodeId: 'n3' }],
        }),
      ]),
    );
    expect(text).toContain(
      `tcp dport 8080 ct mark set ct mark or ${MESH_CT_MARK} dnat ip to numgen random mod 2 map { 0 : 10.0.0.3 . 80, 1 : 10.0.0.4 . 80 }`,
    );
    expect(text).toContain('udp dport 53 ct mark set');
    expect(text).toContain(`oifname "br-ing" snat ip to 10.0.0.250`);
    // Before the CNI port mappings (iptables nat at -100), for local addresses but loopback.
    expect(text).toContain('type nat hook prerouting priority -110;');
    expect(text).toContain('ip daddr != 127.0.0.0/8 fib daddr type local jump ports');
    expect(text.split('\n').slice(0, 3)).toEqual([
      'table ip skiff_mesh {}',
      'delete table ip skiff_mesh',
      'table ip skiff_mesh {',
    ]);
  });

  it('keeps the client address by delivering to local tasks alone, unmarked, when the node has one', () => {
    const backends = [
      { ip: '10.0.0.3', nodeId: 'n2' },
      { ip: '10.0.0.4', nodeId: 'n1' },
    ];
    const local = meshRuleset(program([port({ keepClientAddress: true, backends })]));
    expect(local).toContain('tcp dport 8080 dnat ip to numgen random mod 1 map { 0 : 10.0.0.4 . 80 }');
    // A node without a task of the service still forwards, with SNAT.
    const remote = meshRuleset({
      ...program([port({ keepClientAddress: true, backends })]),
      nodeId: 'n3',
    });
    expect(remote).toContain(
      `tcp dport 8080 ct mark set ct mark or ${MESH_CT_MARK} dnat ip to numgen random mod 2`,
    );
  });

  it('has no rule for a port without a serving task: the kernel refuses it', () => {
    expect(meshRuleset(program([port({})]))).not.toContain('dport 8080');
  });
});
