// A live copy abandoned between its open() and its consumer's first read (the snapshotter
// makes a directory in between) fails that read; it never raises an error nobody listens to.

import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { LiveBlob, LiveBlobGone } from '../../../agent/image/live-blob.js';

describe('LiveBlob', () => {
  it('abandoned before its reader attaches: the later read fails with LiveBlobGone, nothing is uncaught', async () => {
    const live = new LiveBlob('sha256:abc');
    live.push(Buffer.from('first bytes'));
    const stream = live.open();
    expect(stream).toBeDefined();
    live.abandon('the download resumed from an earlier partial one');
    // Let the destroy's 'error' go out before anyone listens (an uncaught one fails the run).
    await new Promise((r) => setImmediate(r));
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    await expect(pipeline(stream!, sink)).rejects.toBeInstanceOf(LiveBlobGone);
    expect(live.goneWhy).toMatch(/resumed/);
  });

  it('hands the bytes over in order to a reader that attaches after the download ended', async () => {
    const live = new LiveBlob('sha256:def');
    live.push(Buffer.from('a'));
    live.push(Buffer.from('b'));
    live.end();
    const chunks: Buffer[] = [];
    for await (const c of live.open()!) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('ab');
  });
});
