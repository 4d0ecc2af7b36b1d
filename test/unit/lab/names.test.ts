import { describe, expect, it } from 'vitest';
import { hostNetns, newRunPrefix, parseRunName, rootLinkName, switchNetns } from '../../lab/names.js';

describe('lab run names', () => {
  it('gives every run a new prefix that parses back to its owner pid', () => {
    const a = newRunPrefix(4_194_304);
    const b = newRunPrefix(4_194_304);
    expect(a).not.toBe(b);
    expect(parseRunName(a)).toEqual({ prefix: a, ownerPid: 4_194_304 });
    expect(parseRunName(hostNetns(a, 'h12'))).toEqual({ prefix: a, ownerPid: 4_194_304 });
    expect(parseRunName(switchNetns(a))?.prefix).toBe(a);
  });

  it('keeps interface names within 15 characters for the largest pids', () => {
    const prefix = newRunPrefix(4_194_304);
    expect(rootLinkName(prefix).length).toBeLessThanOrEqual(15);
  });

  it('does not claim names of other tools', () => {
    expect(parseRunName('skiff-net')).toBeUndefined();
    expect(parseRunName('sklfoo')).toBeUndefined();
    expect(parseRunName('cni-1234')).toBeUndefined();
    expect(parseRunName('skl12_3x4.tmp')).toBeUndefined();
  });
});
