// Which writes a follower serves itself instead of forwarding them to the leader.
import { describe, expect, it } from 'vitest';
import { servedLocally } from '../../../manager/api/index.js';

describe('servedLocally', () => {
  it.each([
    '/tasks/abc123/exec',
    '/tasks/abc123/exec?x=1',
    '/images/create?fromImage=busybox&tag=1',
    '/skiff/renew',
    '/swarm/leave?force=true',
    '/skiff/system/prune?all=true&volumes=false',
    '/images/busybox/tag?repo=x',
    '/images/prune',
    '/volumes/create',
    '/volumes/data',
    '/containers/create?name=x',
  ])('serves %s on this manager', (url) => {
    expect(servedLocally(url)).toBe(true);
  });

  it.each([
    '/services/create',
    '/tasks/abc/exec/more',
    '/imagesx/create',
    '/swarm/leavex',
    '/swarm/init',
    '/nodes/x/update',
  ])('forwards %s to the leader', (url) => {
    expect(servedLocally(url)).toBe(false);
  });
});
