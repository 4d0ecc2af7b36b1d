import { describe, expect, it } from 'vitest';
import {
  DEPENDS_ON_LABEL,
  decodeDependsOn,
  encodeDependsOn,
  isSkiffError,
  type StackDependency,
} from '../../lib/index.js';

describe('depends_on label codec', () => {
  it('round-trips what the deployer writes', () => {
    const deps: StackDependency[] = [
      { service: 'db', condition: 'service_healthy', required: true, restart: false },
      { service: 'migrate', condition: 'service_completed_successfully' },
      { service: 'cache', condition: 'service_started', required: false },
    ];
    expect(decodeDependsOn(encodeDependsOn(deps))).toEqual(deps);
  });

  it('writes the JSON the label always held, so spec hashes do not change', () => {
    const deps: StackDependency[] = [
      { service: 'db', condition: 'service_healthy', required: true, restart: false },
    ];
    expect(encodeDependsOn(deps)).toBe(
      '[{"service":"db","condition":"service_healthy","required":true,"restart":false}]',
    );
    expect(DEPENDS_ON_LABEL).toBe('io.skiff.depends_on');
  });

  it('reads a label written by an older deployer (no required, no restart)', () => {
    expect(decodeDependsOn('[{"service":"db","condition":"service_started"}]')).toEqual([
      { service: 'db', condition: 'service_started' },
    ]);
  });

  it('refuses a label that is not JSON with a clear error', () => {
    let err: unknown;
    try {
      decodeDependsOn('[{"service":');
    } catch (e) {
      err = e;
    }
    expect(isSkiffError(err) && err.code).toBe('invalid_argument');
    expect((err as Error).message).toMatch(/^depends_on label is not JSON: /);
  });

  it('names the offending entry of a malformed label', () => {
    expect(() => decodeDependsOn('[{"service":"db","condition":"service_ready"}]')).toThrow(
      /depends_on label is malformed at 0\.condition: /,
    );
    expect(() => decodeDependsOn('{"service":"db"}')).toThrow(/depends_on label is malformed: /);
    expect(() => decodeDependsOn('[{"condition":"service_started"}]')).toThrow(/at 0\.service/);
  });
});
