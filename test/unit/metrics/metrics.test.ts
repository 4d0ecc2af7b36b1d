// The pure parts of metrics and events: /proc/net/dev parsing, --metrics-addr, the daemon
// config key, container events in Docker's shape and their filters, and the CLI's
// `system events` times, filters and text lines.
import { describe, expect, it } from 'vitest';
import { parseNetDev } from '../../../agent/runtime/index.js';
import { eventFilters, eventText, eventTime } from '../../../cli/commands/system.js';
import { CliUsageError } from '../../../cli/output.js';
import { eventMatches } from '../../../manager/api/events.js';
import { parseFilters } from '../../../manager/api/filters.js';
import { parseDaemonConfig } from '../../../node/config-file.js';
import { dockerContainerEvent } from '../../../node/container-events.js';
import { parseMetricsAddr } from '../../../node/metrics/index.js';

describe('parseNetDev', () => {
  it('sums nothing, keeps each interface but lo, with rx and tx bytes', () => {
    const text = [
      'Inter-|   Receive                                                |  Transmit',
      ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
      '    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0',
      '  eth0:    5230      40    0    0    0     0          0         0     1830      21    0    0    0     0       0          0',
      '  eth1: 9000000000 1 0 0 0 0 0 0 7 1 0 0 0 0 0 0',
    ].join('\n');
    expect(parseNetDev(text)).toEqual([
      { interface: 'eth0', rxBytes: 5230, txBytes: 1830 },
      { interface: 'eth1', rxBytes: 9000000000, txBytes: 7 },
    ]);
    expect(parseNetDev('')).toEqual([]);
  });
});

describe('--metrics-addr', () => {
  it('takes HOST:PORT and [IPv6]:PORT', () => {
    expect(parseMetricsAddr('127.0.0.1:9323')).toEqual({ host: '127.0.0.1', port: 9323 });
    expect(parseMetricsAddr('[::1]:9323')).toEqual({ host: '::1', port: 9323 });
    expect(parseMetricsAddr('localhost:1')).toEqual({ host: 'localhost', port: 1 });
  });

  it.each(['9323', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', '::1:9323', ':9323'])('refuses %s', (a) => {
    expect(() => parseMetricsAddr(a)).toThrow(/is not HOST:PORT/);
  });

  it('is metrics-addr in daemon.json, as dockerd names it', () => {
    expect(parseDaemonConfig('{"metrics-addr": "127.0.0.1:9323"}', 'daemon.json')).toEqual({
      metricsAddr: '127.0.0.1:9323',
    });
  });
});

describe('container events', () => {
  const ev = dockerContainerEvent({
    action: 'die',
    id: 'c1',
    name: 'web.1.t1',
    labels: { 'com.docker.swarm.service.name': 'web', 'com.docker.swarm.task.id': 't1' },
    exitCode: 137,
    oomKilled: true,
    time: new Date(1_700_000_000_500),
  });

  it("are Docker's local container events", () => {
    expect(ev).toEqual({
      Type: 'container',
      Action: 'die',
      Actor: {
        ID: 'c1',
        Attributes: {
          'com.docker.swarm.service.name': 'web',
          'com.docker.swarm.task.id': 't1',
          name: 'web.1.t1',
          exitCode: '137',
          oomKilled: 'true',
        },
      },
      scope: 'local',
      time: 1_700_000_000,
      timeNano: 1_700_000_000_500_000_000,
    });
    const health = dockerContainerEvent({
      action: 'health_status',
      id: 'c1',
      name: 'n',
      labels: {},
      health: 'healthy',
      time: new Date(),
    });
    expect(health.Action).toBe('health_status: healthy');
  });

  it('match the type, container, event and scope filters', () => {
    const f = (q: Record<string, string[]>) =>
      parseFilters(JSON.stringify(q), ['type', 'container', 'event', 'scope', 'service', 'label']);
    expect(eventMatches(ev, f({ type: ['container'] }))).toBe(true);
    expect(eventMatches(ev, f({ type: ['service'] }))).toBe(false);
    expect(eventMatches(ev, f({ container: ['web.1.t1'] }))).toBe(true);
    expect(eventMatches(ev, f({ container: ['other'] }))).toBe(false);
    expect(eventMatches(ev, f({ event: ['die'], scope: ['local'] }))).toBe(true);
    expect(eventMatches(ev, f({ scope: ['swarm'] }))).toBe(false);
    expect(eventMatches(ev, f({ service: ['web'] }))).toBe(false);
    expect(eventMatches(ev, f({ label: ['com.docker.swarm.service.name=web'] }))).toBe(true);
  });
});

describe('skiff system events', () => {
  const now = Date.UTC(2026, 0, 2, 15, 4, 5);

  it('takes unix seconds, RFC 3339 dates and durations back from now', () => {
    expect(eventTime('1700000000', '--since', now)).toBe('1700000000');
    expect(eventTime('1700000000.25', '--since', now)).toBe('1700000000.25');
    expect(eventTime('2026-01-02T15:04:05Z', '--since', now)).toBe(String(now / 1000) + '.000');
    expect(eventTime('10m', '--since', now)).toBe(((now - 600_000) / 1000).toFixed(3));
    expect(() => eventTime('yesterday', '--since', now)).toThrow(CliUsageError);
  });

  it('collects KEY=VALUE filters, several values per key', () => {
    expect(eventFilters(['type=service', 'type=container', 'label=a=b'])).toEqual({
      type: ['service', 'container'],
      label: ['a=b'],
    });
    expect(() => eventFilters(['service'])).toThrow(/is not KEY=VALUE/);
  });

  it("prints Docker's text line", () => {
    expect(
      eventText({
        Type: 'service',
        Action: 'create',
        Actor: { ID: 'abc', Attributes: { name: 'web', a: '1' } },
        timeNano: 1_700_000_000_123_000_000,
      }),
    ).toBe('2023-11-14T22:13:20.123000000Z service create abc (a=1, name=web)');
  });
});
