// Where a `skiff lab` puts things, decided without touching the machine.
import { describe, expect, it } from 'vitest';
import { checkLabHosts, checkLabName, planLastingLab } from '../../../lab/index.js';
import { isSkiffError } from '../../../lib/index.js';

describe('planLastingLab', () => {
  it('gives each host a namespace, an address on the lab subnet and its own state and run roots', () => {
    const lab = planLastingLab('dev', 3, 42);
    expect(lab.subnet).toBe('10.199.42.0/24');
    expect(lab.rootAddr).toBe('10.199.42.1');
    expect(lab.switchNetns).toBe('skiff-dev-sw');
    expect(lab.hosts.map((h) => [h.name, h.netns, h.addr])).toEqual([
      ['h1', 'skiff-dev-h1', '10.199.42.11'],
      ['h2', 'skiff-dev-h2', '10.199.42.12'],
      ['h3', 'skiff-dev-h3', '10.199.42.13'],
    ]);
    expect(lab.hosts[1]).toMatchObject({
      stateRoot: '/var/lib/skiff-lab/dev/h2',
      runDir: '/run/skiff-lab/dev/h2',
    });
  });

  it('keeps the root link name within the kernel limit of 15 characters for the longest name', () => {
    expect(planLastingLab('abcdefgh', 9, 1).rootLink.length).toBeLessThanOrEqual(15);
  });

  it('refuses names that cannot name namespaces or links, and host counts out of range', () => {
    for (const bad of ['', 'Dev', '1lab', 'lab_1', 'abcdefghi', '../x']) {
      expect(() => checkLabName(bad), bad).toThrow(/invalid lab name/);
    }
    for (const bad of [0, 10, 2.5, Number.NaN]) {
      expect(() => checkLabHosts(bad), String(bad)).toThrow(/1 to 9 hosts/);
    }
    let thrown: unknown;
    try {
      checkLabName('Bad');
    } catch (e) {
      thrown = e;
    }
    expect(isSkiffError(thrown) && thrown.code).toBe('invalid_argument');
  });
});
