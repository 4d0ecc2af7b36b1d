// Encrypted overlays: the VXLAN packets of encrypted networks travel between nodes in
// IPsec ESP (transport mode, AES-GCM: rfc4106), through the kernel's xfrm, as Swarm does.
// - An nftables table `skiff_esp` marks the node's outgoing VXLAN packets whose VNI is an
//   encrypted network's (a `route` chain: the kernel routes the packet again with the
//   mark, which is when xfrm picks the policy), and drops incoming ones of those VNIs that
//   did not arrive in ESP.
// - Per peer node, an xfrm policy sends the marked packets through the SA of the primary
//   key; an SA per key and direction (the peer's for what it sends, ours for what we send)
//   lets every key of the ring be read, so a rotation drops nothing. SPIs and SA keys are
//   derived from the ring's key, its tag and the two addresses, so both ends agree
//   without talking: HKDF gives each direction its own key (AES-GCM must never see a
//   nonce twice under one key, and two SAs sharing one would risk it).
// - A catch-all policy of low priority blocks marked packets to any node without an SA
//   yet: an encrypted network's traffic is never sent in clear.
// Everything carries the reqid/mark below, so what is ours is found and removed again,
// and nothing else on the host is touched. Keys reach `ip` on its stdin, never argv.
import { createHash, hkdfSync } from 'node:crypto';
import type { Logger, NetworkKeys } from '../../lib/index.js';
import { SkiffError } from '../../lib/index.js';
import type { Exec } from './exec.js';
import { VXLAN_PORT } from './overlay.js';

/** The packet mark of encrypted VXLAN traffic (Swarm's 0xD0C4E3, so the pattern is familiar). */
export const ESP_MARK = 0xd0c4e3;
/** The reqid of skiff's states and policies: how they are found again. */
export const ESP_REQID = 0x5c1ff;
export const ESP_NFT_TABLE = 'skiff_esp';
const AEAD = 'rfc4106(gcm(aes))';
const ICV_BITS = 128;
const PEER_PRIORITY = 100;
const BLOCK_PRIORITY = 200;
const mark = `mark 0x${ESP_MARK.toString(16)} mask 0xffffffff`;

export interface EspSa {
  src: string;
  dst: string;
  spi: number;
  /** 20 bytes (AES-128 key and rfc4106 salt), hex. */
  key: string;
}

export interface EspPlan {
  sas: EspSa[];
  /** One per peer: our packets to it go through the SA with this SPI. */
  policies: { src: string; dst: string; spi: number }[];
}

/** The SPI of the SA from `src` to `dst` under the key tagged `tag`: above 255, as RFC 4303 asks. */
export function espSpi(src: string, dst: string, tag: number): number {
  const h = createHash('sha256').update(`skiff-esp-spi|${src}|${dst}|${tag}`).digest();
  const spi = h.readUInt32BE(0);
  return spi < 0x100 ? spi + 0x100 : spi;
}

/** The SA key from `src` to `dst`, from one key of the ring. */
export function espKey(ringKey: string, src: string, dst: string): string {
  const out = hkdfSync('sha256', Buffer.from(ringKey, 'base64'), 'skiff-overlay-esp', `${src}>${dst}`, 20);
  return Buffer.from(out).toString('hex');
}

/** The SAs and policies between `self` and each peer under `keys`. Pure. */
export function espPlan(self: string, peers: readonly string[], keys: NetworkKeys): EspPlan {
  const sas: EspSa[] = [];
  const policies: EspPlan['policies'] = [];
  for (const peer of [...new Set(peers)].sort()) {
    if (peer === self) continue;
    for (const k of keys.keys) {
      for (const [src, dst] of [
        [self, peer],
        [peer, self],
      ] as const) {
        sas.push({ src, dst, spi: espSpi(src, dst, k.tag), key: espKey(k.key, src, dst) });
      }
    }
    policies.push({ src: self, dst: peer, spi: espSpi(self, peer, keys.primary) });
  }
  return { sas, policies };
}

const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
const saId = (sa: Pick<EspSa, 'src' | 'dst' | 'spi'>) => `${sa.src}>${sa.dst}#${hex(sa.spi)}`;

function policySelector(src: string, dst: string): string {
  return `src ${src}/32 dst ${dst}/32 proto udp dport ${VXLAN_PORT} dir out ${mark}`;
}

/**
 * The `ip -batch` lines from what is installed to `plan`: new SAs first, then the
 * policies (switching to the primary key), then what is no longer wanted. Pure.
 */
export function espBatch(
  installed: {
    sas: readonly Pick<EspSa, 'src' | 'dst' | 'spi'>[];
    policies: readonly { src: string; dst: string }[];
  },
  plan: EspPlan,
): string[] {
  const have = new Set(installed.sas.map(saId));
  const want = new Set(plan.sas.map(saId));
  const lines: string[] = [];
  for (const sa of plan.sas) {
    if (have.has(saId(sa))) continue;
    lines.push(
      `xfrm state add src ${sa.src} dst ${sa.dst} proto esp spi ${hex(sa.spi)} reqid ${ESP_REQID} mode transport aead ${AEAD} 0x${sa.key} ${ICV_BITS}`,
    );
  }
  for (const p of plan.policies) {
    lines.push(
      `xfrm policy update ${policySelector(p.src, p.dst)} priority ${PEER_PRIORITY} tmpl src ${p.src} dst ${p.dst} proto esp spi ${hex(p.spi)} reqid ${ESP_REQID} mode transport`,
    );
  }
  const peers = new Set(plan.policies.map((p) => `${p.src}>${p.dst}`));
  for (const p of installed.policies) {
    if (!peers.has(`${p.src}>${p.dst}`)) lines.push(`xfrm policy delete ${policySelector(p.src, p.dst)}`);
  }
  for (const sa of installed.sas) {
    if (!want.has(saId(sa)))
      lines.push(`xfrm state delete src ${sa.src} dst ${sa.dst} proto esp spi ${hex(sa.spi)}`);
  }
  return lines;
}

/** The catch-all policy: marked VXLAN to a node without an SA is dropped, never sent in clear. */
export function blockPolicy(op: 'update' | 'delete'): string {
  const sel = `src 0.0.0.0/0 dst 0.0.0.0/0 proto udp dport ${VXLAN_PORT} dir out ${mark}`;
  return op === 'update'
    ? `xfrm policy update ${sel} priority ${BLOCK_PRIORITY} action block`
    : `xfrm policy delete ${sel}`;
}

/** The `skiff_esp` table for these VNIs, replacing any earlier one in one transaction. Pure. */
export function espRuleset(vnis: readonly number[]): string {
  const sorted = [...new Set(vnis)].sort((a, b) => a - b);
  return [
    `table ip ${ESP_NFT_TABLE} {}`,
    `delete table ip ${ESP_NFT_TABLE}`,
    `table ip ${ESP_NFT_TABLE} {`,
    '  chain mark_out {',
    '    type route hook output priority mangle; policy accept;',
    ...sorted.map(
      (v) => `    udp dport ${VXLAN_PORT} @th,96,24 ${v} meta mark set 0x${ESP_MARK.toString(16)}`,
    ),
    '  }',
    '  chain clear_in {',
    '    type filter hook input priority filter; policy accept;',
    ...sorted.map((v) => `    udp dport ${VXLAN_PORT} @th,96,24 ${v} meta ipsec missing counter drop`),
    '  }',
    '}',
    '',
  ].join('\n');
}

/** skiff's SAs in `ip xfrm state list` output. Pure. */
export function parseStates(text: string): Pick<EspSa, 'src' | 'dst' | 'spi'>[] {
  const out: Pick<EspSa, 'src' | 'dst' | 'spi'>[] = [];
  let addr: { src: string; dst: string } | undefined;
  for (const line of text.split('\n')) {
    const a = /^src (\S+) dst (\S+)/.exec(line);
    if (a) {
      addr = { src: a[1] as string, dst: a[2] as string };
      continue;
    }
    const p = /^\s+proto esp spi (0x[0-9a-f]+) reqid (\d+)/.exec(line);
    if (p && addr && Number(p[2]) === ESP_REQID) out.push({ ...addr, spi: Number(p[1]) });
  }
  return out;
}

/** skiff's per-peer policies (marked, not the catch-all) in `ip xfrm policy list` output. Pure. */
export function parsePolicies(text: string): { src: string; dst: string }[] {
  const out: { src: string; dst: string }[] = [];
  const blocks = text.split(/\n(?=src )/);
  for (const b of blocks) {
    const a = /^src (\S+)\/32 dst (\S+)\/32 proto udp dport (\d+)/.exec(b);
    if (!a || Number(a[3]) !== VXLAN_PORT) continue;
    if (!b.includes(`mark 0x${ESP_MARK.toString(16)}/`) || !/\bdir out\b/.test(b)) continue;
    out.push({ src: a[1] as string, dst: a[2] as string });
  }
  return out;
}

export interface EspState {
  /** This node's underlay address (what its VXLAN packets leave from). */
  self: string;
  /** VNIs of the encrypted overlays set up on this node; none: nothing of this is left. */
  vnis: number[];
  /** Underlay addresses of the nodes sharing an encrypted overlay with this one. */
  peers: string[];
  /** The ring; null or undefined: none known (per-peer SAs go; the catch-all still blocks). */
  keys: NetworkKeys | null | undefined;
}

export class OverlayEsp {
  private supportedCheck: Promise<boolean> | undefined;

  constructor(
    private readonly run: Exec,
    private readonly log: Logger,
  ) {}

  /**
   * Whether the kernel can do ESP with AES-GCM: a state is added (for TEST-NET addresses,
   * nothing real) and removed again. Asked once per process.
   */
  supported(): Promise<boolean> {
    this.supportedCheck ??= (async () => {
      const probe = { src: '192.0.2.1', dst: '192.0.2.2', spi: 0xfffffff0, key: '00'.repeat(20) };
      const add = espBatch({ sas: [], policies: [] }, { sas: [probe], policies: [] });
      const r = await this.run('ip', ['-batch', '-'], { input: `${add.join('\n')}\n` });
      await this.run('ip', [
        'xfrm',
        'state',
        'delete',
        'src',
        probe.src,
        'dst',
        probe.dst,
        'proto',
        'esp',
        'spi',
        hex(probe.spi),
      ]);
      if (r.code !== 0)
        this.log.info({ detail: r.stderr.trim() }, 'this kernel has no IPsec ESP with AES-GCM');
      return r.code === 0;
    })();
    return this.supportedCheck;
  }

  /** Makes the kernel's ESP state exactly what `s` asks for (all of it gone when no VNI is left). */
  async sync(s: EspState): Promise<void> {
    const installed = await this.installed();
    if (s.vnis.length === 0) {
      const lines = [
        ...espBatch(installed, { sas: [], policies: [] }),
        ...((await this.hasBlockPolicy()) ? [blockPolicy('delete')] : []),
      ];
      if (lines.length > 0) await this.batch(lines, 'removing the ESP states and policies');
      await this.run('nft', ['delete', 'table', 'ip', ESP_NFT_TABLE]);
      return;
    }
    // The catch-all first, the marks next: from the first marked packet on, nothing leaves in clear.
    await this.batch([blockPolicy('update')], 'installing the ESP catch-all policy');
    const r = await this.run('nft', ['-f', '-'], { input: espRuleset(s.vnis) });
    if (r.code !== 0) throw new SkiffError('internal', `cannot install the ESP marks: ${r.stderr.trim()}`);
    const plan = s.keys ? espPlan(s.self, s.peers, s.keys) : { sas: [], policies: [] };
    const lines = espBatch(installed, plan);
    if (lines.length > 0) await this.batch(lines, 'programming the ESP states and policies');
    this.log.info({ peers: s.peers, vnis: s.vnis, primary: s.keys?.primary }, 'overlay ESP programmed');
  }

  /** skiff's SAs and per-peer policies in the kernel now. */
  async installed(): Promise<{
    sas: Pick<EspSa, 'src' | 'dst' | 'spi'>[];
    policies: { src: string; dst: string }[];
  }> {
    const [st, po] = await Promise.all([
      this.run('ip', ['xfrm', 'state', 'list']),
      this.run('ip', ['xfrm', 'policy', 'list']),
    ]);
    return { sas: parseStates(st.stdout), policies: parsePolicies(po.stdout) };
  }

  private async hasBlockPolicy(): Promise<boolean> {
    const r = await this.run('ip', ['xfrm', 'policy', 'list']);
    return r.stdout
      .split(/\n(?=src )/)
      .some(
        (b) => b.startsWith('src 0.0.0.0/0 dst 0.0.0.0/0') && b.includes(`mark 0x${ESP_MARK.toString(16)}/`),
      );
  }

  private async batch(lines: string[], what: string): Promise<void> {
    // -force: the batch goes on past a line that fails (say a state a restart left behind), and
    // reports it: the next sync starts from what the kernel really has.
    const r = await this.run('ip', ['-force', '-batch', '-'], { input: `${lines.join('\n')}\n` });
    if (r.code !== 0) throw new SkiffError('internal', `${what}: ${r.stderr.trim().split('\n')[0]}`);
  }
}
