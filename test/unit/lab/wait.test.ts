import { describe, expect, it } from 'vitest';
import { Cleanup, WaitTimeoutError, waitFor, withCleanup } from '../../lab/index.js';

describe('waitFor', () => {
  it('returns the first truthy value', async () => {
    let calls = 0;
    const value = await waitFor(() => (++calls >= 3 ? `done after ${calls}` : undefined), {
      what: 'three calls',
      intervalMs: 1,
    });
    expect(value).toBe('done after 3');
  });

  it('names what it waited for and the last error when the deadline passes', async () => {
    const error = await waitFor(
      () => {
        throw new Error('connection refused');
      },
      { what: 'the server to answer', timeoutMs: 30, intervalMs: 5 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as Error).message).toBe(
      'timed out after 30 ms waiting for the server to answer; last error: connection refused',
    );
  });
});

describe('Cleanup', () => {
  it('runs steps in reverse order, all of them even when one fails', async () => {
    const order: string[] = [];
    const cleanup = new Cleanup();
    cleanup.add(() => order.push('first'));
    cleanup.add(() => {
      throw new Error('second broke');
    }, 'second');
    cleanup.add(async () => order.push('third'));
    await expect(cleanup.run()).rejects.toThrow('cleanup failed: second: second broke');
    expect(order).toEqual(['third', 'first']);
    await cleanup.run();
  });

  it('withCleanup cleans up after a failing body', async () => {
    const order: string[] = [];
    await expect(
      withCleanup(async (cleanup) => {
        cleanup.track('resource', (r) => order.push(`removed ${r}`));
        throw new Error('test failed');
      }),
    ).rejects.toThrow('test failed');
    expect(order).toEqual(['removed resource']);
  });
});
