// The routing mesh on one node: every port published in ingress mode answers on the
// node's own addresses and is forwarded, in kernel, to one of the service's serving tasks
// anywhere in the cluster (Swarm's ingress, without IPVS: this kernel has none). The
// node has an address of its own on the ingress overlay (what Swarm's ingress-sbox
// holds), on its ingress bridge: a new connection to a published port is DNATed to a
// task's ingress address (`numgen random`, conntrack keeps the flow on it) and SNATed to
// the node's ingress address, so the task's reply comes back over the overlay to this
// node, which un-NATs it to the client. A service that keeps the client's address is
// delivered, on a node running one of its serving tasks, to those tasks only and without
// SNAT (their replies leave through this node's gateway anyway); a node running none
// still forwards over the mesh, with its own address as source.
import type { MeshPort } from '../../lib/index.js';
import { type Logger, SkiffError, silentLogger } from '../../lib/index.js';
import type { Exec } from './exec.js';

/** The node's table (ip family) in its own network namespace. */
export const MESH_TABLE = 'skiff_mesh';
/** The conntrack mark bit of connections the mesh forwards with SNAT. */
export const MESH_CT_MARK = '0x00100000';

export interface MeshProgram {
  /** The node's ingress bridge: forwarded connections leave through it. */
  bridge: string;
  /** The node's own address on the ingress network. */
  address: string;
  ports: readonly MeshPort[];
  nodeId: string;
}

/**
 * The whole table, replaced atomically by one `nft -f`. Connections to a local address
 * (not loopback: 127.0.0.1 still reaches a local task through its port mapping) on a
 * published port are translated before the CNI port mappings see them (a lower
 * priority): the mesh, not the node's own task, decides. A port without a serving task
 * gets no rule: nothing listens there, so the kernel refuses it at once. Pure.
 */
export function meshRuleset(p: MeshProgram): string {
  const rules: string[] = [];
  for (const port of p.ports) {
    const local = port.backends.filter((b) => b.nodeId === p.nodeId);
    const keep = port.keepClientAddress && local.length > 0;
    const backends = keep ? local : port.backends;
    if (backends.length === 0) continue;
    const map = backends.map((b, i) => `${i} : ${b.ip} . ${port.targetPort}`).join(', ');
    const mark = keep ? '' : `ct mark set ct mark or ${MESH_CT_MARK} `;
    rules.push(
      `    ${port.protocol} dport ${port.publishedPort} ${mark}dnat ip to numgen random mod ${backends.length} map { ${map} }`,
    );
  }
  return [
    `table ip ${MESH_TABLE} {}`,
    `delete table ip ${MESH_TABLE}`,
    `table ip ${MESH_TABLE} {`,
    '  chain ports {',
    ...rules,
    '  }',
    // Numeric priorities: nft names none for nat in the output hook. dstnat is -100, srcnat 100.
    '  chain prerouting {',
    '    type nat hook prerouting priority -110; policy accept;',
    '    fib daddr type local jump ports',
    '  }',
    '  chain output {',
    '    type nat hook output priority -110; policy accept;',
    '    ip daddr != 127.0.0.0/8 fib daddr type local jump ports',
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority 90; policy accept;',
    `    ct mark and ${MESH_CT_MARK} == ${MESH_CT_MARK} oifname ${JSON.stringify(p.bridge)} snat ip to ${p.address}`,
    '  }',
    '}',
    '',
  ].join('\n');
}

const REMOVE = `table ip ${MESH_TABLE} {}\ndelete table ip ${MESH_TABLE}\n`;

/**
 * Keeps the node's mesh table and its ingress address equal to the latest program: one
 * `nft -f` per burst of changes (a queued request finds the table already current).
 */
export class RoutingMesh {
  private applied = '';
  /** The address put on the bridge, to take it off again. */
  private addressOn: { bridge: string; cidr: string } | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly log: Logger;

  constructor(
    private readonly run: Exec,
    log: Logger = silentLogger,
  ) {
    this.log = log.child({ component: 'routing-mesh' });
  }

  /** Programs `wanted()` (read when the turn comes); undefined removes the mesh. Throws on refusal. */
  sync(wanted: () => (MeshProgram & { prefixLength: number }) | undefined): Promise<void> {
    const next = this.queue.then(async () => {
      const p = wanted();
      const cidr = p && `${p.address}/${p.prefixLength}`;
      if (this.addressOn && (this.addressOn.cidr !== cidr || this.addressOn.bridge !== p?.bridge)) {
        await this.run('ip', ['addr', 'del', this.addressOn.cidr, 'dev', this.addressOn.bridge]);
        this.addressOn = undefined;
      }
      if (p && cidr && !this.addressOn) {
        // `replace`: it may be there from before a restart.
        const r = await this.run('ip', ['addr', 'replace', cidr, 'dev', p.bridge]);
        if (r.code !== 0) {
          throw new SkiffError(
            'internal',
            `cannot put the node's ingress address ${cidr} on ${p.bridge}: ${r.stderr.trim()}`,
          );
        }
        this.addressOn = { bridge: p.bridge, cidr };
      }
      const text = p ? meshRuleset(p) : REMOVE;
      if (text === this.applied) return;
      const r = await this.run('nft', ['-f', '-'], { input: text });
      if (r.code !== 0) {
        this.applied = '';
        throw new SkiffError(
          'internal',
          `cannot program the routing mesh: ${r.stderr.trim().split('\n')[0]}`,
        );
      }
      this.applied = text;
      this.log.info(
        { ports: p?.ports.map((x) => `${x.protocol}/${x.publishedPort}:${x.backends.length}`) ?? [] },
        p ? 'routing mesh programmed' : 'routing mesh removed',
      );
    });
    this.queue = next.catch(() => {});
    return next;
  }
}
