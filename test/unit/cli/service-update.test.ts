// `skiff service update` flags change the spec as `docker service update` does.
import { describe, expect, it } from 'vitest';
import {
  applyServiceUpdate,
  type ServiceUpdateFlags,
  securityOptPrivileges,
} from '../../../cli/service-update.js';
import type { ServiceSpec } from '../../../lib/index.js';

const none: ServiceUpdateFlags = {
  envAdd: [],
  envRm: [],
  publishAdd: [],
  publishRm: [],
  labelAdd: [],
  labelRm: [],
  constraintAdd: [],
  constraintRm: [],
};

const base: ServiceSpec = {
  Name: 'web',
  Labels: { tier: 'front', keep: 'yes' },
  Mode: { Replicated: { Replicas: 2 } },
  TaskTemplate: {
    ContainerSpec: { Image: 'web:1', Env: ['A=1', 'B=2'] },
    Placement: { Constraints: ['node.role==worker'] },
  },
  EndpointSpec: {
    Ports: [
      { PublishedPort: 8080, TargetPort: 80, Protocol: 'tcp', PublishMode: 'ingress' },
      { PublishedPort: 5353, TargetPort: 53, Protocol: 'udp', PublishMode: 'ingress' },
    ],
  },
};

describe('applyServiceUpdate', () => {
  it('changes nothing without flags and leaves its input alone', () => {
    const before = structuredClone(base);
    expect(applyServiceUpdate(base, none)).toEqual(base);
    applyServiceUpdate(base, { ...none, image: 'web:2', labelRm: ['tier'], publishRm: ['80'] });
    expect(base).toEqual(before);
  });

  it('adds and removes published ports by target, protocol or whole mapping', () => {
    const added = applyServiceUpdate(base, { ...none, publishAdd: ['8081:81'] });
    expect(added.EndpointSpec?.Ports?.map((p) => `${p.PublishedPort}:${p.TargetPort}/${p.Protocol}`)).toEqual(
      ['8080:80/tcp', '5353:53/udp', '8081:81/tcp'],
    );
    const byTarget = applyServiceUpdate(base, { ...none, publishRm: ['80'] });
    expect(byTarget.EndpointSpec?.Ports?.map((p) => p.TargetPort)).toEqual([53]);
    // 53/tcp is not published: the udp mapping stays.
    expect(applyServiceUpdate(base, { ...none, publishRm: ['53'] }).EndpointSpec?.Ports).toHaveLength(2);
    expect(applyServiceUpdate(base, { ...none, publishRm: ['53/udp'] }).EndpointSpec?.Ports).toHaveLength(1);
    expect(applyServiceUpdate(base, { ...none, publishRm: ['9090:80'] }).EndpointSpec?.Ports).toHaveLength(2);
    // Re-publishing a published port replaces its mapping instead of doubling it.
    const moved = applyServiceUpdate(base, { ...none, publishAdd: ['8080:81'] });
    expect(
      moved.EndpointSpec?.Ports?.filter((p) => p.PublishedPort === 8080).map((p) => p.TargetPort),
    ).toEqual([81]);
  });

  it('refuses a malformed port with the flag and an example', () => {
    expect(() => applyServiceUpdate(base, { ...none, publishAdd: ['80'] })).toThrow(
      /--publish "80".*8080:80/,
    );
    expect(() => applyServiceUpdate(base, { ...none, publishAdd: ['70000:80'] })).toThrow(/--publish/);
    expect(() => applyServiceUpdate(base, { ...none, publishRm: ['http'] })).toThrow(/--publish-rm "http"/);
  });

  it('adds and removes labels, env and constraints', () => {
    const s = applyServiceUpdate(base, {
      ...none,
      labelAdd: ['tier=back', 'new'],
      labelRm: ['keep'],
      envAdd: ['B=3', 'C=4'],
      envRm: ['A'],
      constraintAdd: ['node.labels.zone==a'],
      constraintRm: ['node.role == worker'],
    });
    expect(s.Labels).toEqual({ tier: 'back', new: '' });
    expect(s.TaskTemplate?.ContainerSpec?.Env).toEqual(['B=3', 'C=4']);
    expect(s.TaskTemplate?.Placement?.Constraints).toEqual(['node.labels.zone==a']);
  });

  it('sets the image, the replicas and forces a rollout', () => {
    const s = applyServiceUpdate(base, { ...none, image: 'web:2', replicas: 5, force: true });
    expect(s.TaskTemplate?.ContainerSpec?.Image).toBe('web:2');
    expect(s.Mode).toEqual({ Replicated: { Replicas: 5 } });
    expect(s.TaskTemplate?.ForceUpdate).toBe(1);
  });

  it('refuses --replicas for a global service', () => {
    expect(() => applyServiceUpdate({ ...base, Mode: { Global: {} } }, { ...none, replicas: 3 })).toThrow(
      /replicated services only/,
    );
  });

  it('adds and drops capabilities as docker does (names as CAP_…, add takes off drop)', () => {
    const s1 = applyServiceUpdate(base, { ...none, capAdd: ['net_admin', 'SYS_TIME'], capDrop: ['MKNOD'] });
    const cs1 = s1.TaskTemplate?.ContainerSpec;
    expect(cs1?.CapabilityAdd).toEqual(['CAP_NET_ADMIN', 'CAP_SYS_TIME']);
    expect(cs1?.CapabilityDrop).toEqual(['CAP_MKNOD']);
    const s2 = applyServiceUpdate(s1, { ...none, capAdd: ['MKNOD'], capDrop: ['CAP_SYS_TIME'] });
    const cs2 = s2.TaskTemplate?.ContainerSpec;
    expect(cs2?.CapabilityAdd).toEqual(['CAP_NET_ADMIN', 'CAP_MKNOD']);
    expect(cs2?.CapabilityDrop).toEqual(['CAP_SYS_TIME']);
    expect(() => applyServiceUpdate(base, { ...none, capAdd: ['NET_ADMN'] })).toThrow(
      /--cap-add: "NET_ADMN" is not a Linux capability/,
    );
  });

  it('folds --security-opt into Privileges, keeping what it does not set', () => {
    const profile = JSON.stringify({ defaultAction: 'SCMP_ACT_ERRNO' });
    const read = (f: string) => {
      if (f === 'p.json') return profile;
      throw new Error('no such file');
    };
    const p1 = securityOptPrivileges(['seccomp=p.json', 'no-new-privileges:false'], read);
    expect(p1).toEqual({ Seccomp: { Mode: 'custom', Profile: profile }, NoNewPrivileges: false });
    const s1 = applyServiceUpdate(base, { ...none, ...(p1 ? { privileges: p1 } : {}) });
    const p2 = securityOptPrivileges(['apparmor=unconfined', 'seccomp=unconfined'], read);
    const s2 = applyServiceUpdate(s1, { ...none, ...(p2 ? { privileges: p2 } : {}) });
    expect(s2.TaskTemplate?.ContainerSpec?.Privileges).toEqual({
      Seccomp: { Mode: 'unconfined' },
      AppArmor: { Mode: 'disabled' },
      NoNewPrivileges: false,
    });
    expect(securityOptPrivileges([], read)).toBeUndefined();
    expect(() => securityOptPrivileges(['apparmor=docker-default'], read)).toThrow(/can only turn it off/);
    expect(() => securityOptPrivileges(['seccomp=q.json'], read)).toThrow(
      /cannot read the seccomp profile q\.json/,
    );
  });
});
