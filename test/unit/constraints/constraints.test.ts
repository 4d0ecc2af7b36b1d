import { describe, expect, it } from 'vitest';
import {
  nodeMatchesConstraints,
  nodeRunsPlatforms,
  nodeSuitsSpec,
  parseConstraint,
  parseConstraints,
} from '../../../manager/constraints/index.js';
import { makeNode } from '../scheduler/fixtures.js';

describe('constraints', () => {
  const node = makeNode('n1', { labels: { zone: 'A' }, role: 'manager', arch: 'aarch64' });

  it('parses KEY==VALUE and KEY!=VALUE, keeping label case and naming a bad key or form', () => {
    expect(parseConstraint(' node.labels.Zone == a ')).toMatchObject({
      key: { kind: 'node.labels', label: 'Zone' },
      op: '==',
      value: 'a',
    });
    expect(parseConstraint('NODE.ROLE!=worker').key).toEqual({ kind: 'node.role' });
    expect(() => parseConstraint('node.labels.zone=a')).toThrow(/expected KEY==VALUE/);
    expect(() => parseConstraint('node.colour==red')).toThrow(/unknown key "node.colour"/);
  });

  it('matches values case-insensitively; a missing label equals nothing and differs from everything', () => {
    const match = (...texts: string[]) => nodeMatchesConstraints(node, parseConstraints(texts));
    expect(match('node.labels.zone==a', 'node.role==manager')).toBe(true);
    expect(match('node.labels.rack==1')).toBe(false);
    expect(match('node.labels.rack!=1')).toBe(true);
    expect(match('node.platform.arch==arm64')).toBe(true);
    expect(match()).toBe(true);
  });

  it('says whether a spec could ever run on a node: constraints, platforms, an invalid constraint never', () => {
    expect(nodeSuitsSpec(node, undefined)).toBe(true);
    expect(nodeSuitsSpec(node, { Placement: { Constraints: ['node.labels.zone==b'] } })).toBe(false);
    expect(nodeSuitsSpec(node, { Placement: { Constraints: ['zone=a'] } })).toBe(false);
    expect(nodeSuitsSpec(node, { Placement: { Platforms: [{ OS: 'linux', Architecture: 'arm64' }] } })).toBe(
      true,
    );
    expect(nodeRunsPlatforms(node, [{ OS: 'linux', Architecture: 'amd64' }])).toBe(false);
  });
});
