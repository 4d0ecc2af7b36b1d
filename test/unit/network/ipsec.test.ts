import { describe, expect, it } from 'vitest';
import {
  ESP_REQID,
  espBatch,
  espKey,
  espPlan,
  espRuleset,
  espSpi,
  parsePolicies,
  parseStates,
} from '../../../agent/network/ipsec.js';
import type { NetworkKeys } from '../../../lib/index.js';

const ring = (tags: number[], primary: number): NetworkKeys => ({
  keys: tags.map((tag) => ({ tag, key: Buffer.alloc(20, tag).toString('base64') })),
  primary,
});
const A = '10.77.0.1';
const B = '10.77.0.2';

describe('overlay ESP plan', () => {
  it('derives the same SA on both ends, a different one per direction and per key', () => {
    const onA = espPlan(A, [B], ring([1, 2, 3], 2));
    const onB = espPlan(B, [A], ring([1, 2, 3], 2));
    const sorted = (p: typeof onA) => [...p.sas].sort((x, y) => x.spi - y.spi);
    expect(sorted(onA)).toEqual(sorted(onB));
    expect(onA.sas).toHaveLength(6);
    expect(new Set(onA.sas.map((s) => s.spi)).size).toBe(6);
    expect(new Set(onA.sas.map((s) => s.key)).size).toBe(6);
    expect(espKey(ring([1], 1).keys[0]!.key, A, B)).toHaveLength(40);
    // Each end sends with the primary key's SA towards the other, the other reads it.
    expect(onA.policies).toEqual([{ src: A, dst: B, spi: espSpi(A, B, 2) }]);
    expect(onB.policies).toEqual([{ src: B, dst: A, spi: espSpi(B, A, 2) }]);
    for (const s of onA.sas) expect(s.spi).toBeGreaterThan(0xff);
  });

  it('adds the new key before switching, and drops the old key and gone peers after', () => {
    const before = espPlan(A, [B, '10.77.0.3'], ring([1, 2, 3], 2));
    const after = espPlan(A, [B], ring([2, 3, 4], 3));
    const lines = espBatch(before, after);
    const firstPolicy = lines.findIndex((l) => l.startsWith('xfrm policy update'));
    const firstDelete = lines.findIndex((l) => l.includes(' delete '));
    // Only key 4's SAs are new (two directions).
    expect(lines.slice(0, firstPolicy)).toHaveLength(2);
    expect(lines.slice(0, firstPolicy).every((l) => l.startsWith('xfrm state add'))).toBe(true);
    expect(lines[firstPolicy]).toContain(`spi 0x${espSpi(A, B, 3).toString(16).padStart(8, '0')}`);
    expect(firstDelete).toBeGreaterThan(firstPolicy);
    expect(lines.filter((l) => l.startsWith('xfrm policy delete'))).toEqual([
      expect.stringContaining('dst 10.77.0.3/32'),
    ]);
    // Key 1 between A and B (2) and every SA with the gone peer (6).
    expect(lines.filter((l) => l.startsWith('xfrm state delete'))).toHaveLength(8);
    expect(espBatch(after, after).filter((l) => !l.startsWith('xfrm policy update'))).toEqual([]);
  });

  it('marks and guards only the encrypted VNIs', () => {
    const rules = espRuleset([4200, 4100, 4200]);
    expect(rules.match(/meta mark set/g)).toHaveLength(2);
    expect(rules).toContain('@th,96,24 4100 meta ipsec missing counter drop');
    expect(rules).toContain('type route hook output');
  });

  it('finds its own states and policies in ip xfrm output, nobody else’s', () => {
    const states = [
      `src ${A} dst ${B}`,
      `\tproto esp spi 0x00001234 reqid ${ESP_REQID} mode transport`,
      '\treplay-window 0 ',
      `src ${A} dst 10.9.9.9`,
      '\tproto esp spi 0x00000999 reqid 1 mode tunnel',
    ].join('\n');
    expect(parseStates(states)).toEqual([{ src: A, dst: B, spi: 0x1234 }]);
    const policies = [
      `src ${A}/32 dst ${B}/32 proto udp dport 4789 `,
      '\tdir out priority 100 ptype main ',
      '\tmark 0xd0c4e3/0xffffffff ',
      `\ttmpl src ${A} dst ${B}`,
      '\t\tproto esp spi 0x00000200 reqid 377855 mode transport',
      'src 0.0.0.0/0 dst 0.0.0.0/0 proto udp dport 4789 ',
      '\tdir out action block priority 200 ptype main ',
      '\tmark 0xd0c4e3/0xffffffff ',
      `src ${A}/32 dst 10.9.9.9/32 proto udp dport 4789 `,
      '\tdir out priority 0 ptype main ',
    ].join('\n');
    expect(parsePolicies(policies)).toEqual([{ src: A, dst: B }]);
  });
});
