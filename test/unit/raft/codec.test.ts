import { describe, expect, it } from 'vitest';
import { Reader, readMessage, Writer, writeMessage } from '../../../manager/raft/codec.js';
import type { Message } from '../../../manager/raft/types.js';

function roundTrip(m: Message): Message {
  const w = new Writer(8);
  writeMessage(w, m);
  return readMessage(new Reader(w.finish(), 'test'));
}

describe('raft wire codec', () => {
  it('round-trips an append with entries and large indices', () => {
    const m: Message = {
      type: 'app',
      from: 'n1',
      to: 'n2',
      term: 7,
      index: 2 ** 40 + 3,
      logTerm: 6,
      commit: 2 ** 33,
      entries: [
        { index: 2 ** 40 + 4, term: 7, type: 'normal', data: new Uint8Array([1, 2, 3]) },
        {
          index: 2 ** 40 + 5,
          term: 7,
          type: 'conf',
          data: new TextEncoder().encode('{"type":"remove","id":"x"}'),
        },
      ],
    };
    expect(roundTrip(m)).toEqual(m);
  });

  it('keeps zero hints on a rejection (they mean "nothing matches")', () => {
    const m: Message = {
      type: 'appResp',
      from: 'n4',
      to: 'n1',
      term: 2,
      index: 65,
      reject: true,
      hintIndex: 0,
      hintTerm: 0,
    };
    expect(roundTrip(m)).toEqual(m);
  });

  it('round-trips vote and read messages with context', () => {
    const vote: Message = {
      type: 'vote',
      from: 'a',
      to: 'b',
      term: 3,
      index: 10,
      logTerm: 2,
      context: 'transfer',
    };
    expect(roundTrip(vote)).toEqual(vote);
    const read: Message = { type: 'readIndexResp', from: 'a', to: 'b', term: 3, index: 10, context: 'r-1' };
    expect(roundTrip(read)).toEqual(read);
  });

  it('refuses a truncated frame with a clear error instead of inventing fields', () => {
    const w = new Writer();
    writeMessage(w, { type: 'heartbeat', from: 'a', to: 'b', term: 1, commit: 4 });
    const buf = w.finish();
    expect(() => readMessage(new Reader(buf.subarray(0, buf.length - 3), 'raft frame'))).toThrow(
      /raft frame is truncated/,
    );
  });
});

describe('raft codec: entry data copies', () => {
  const m: Message = {
    type: 'app',
    from: 'n1',
    to: 'n2',
    term: 3,
    index: 9,
    entries: [{ index: 10, term: 3, type: 'normal', data: new Uint8Array([7, 8, 9]) }],
  };

  it('copies entry data out of the source buffer by default (a WAL segment may be reused)', () => {
    const w = new Writer(8);
    writeMessage(w, m);
    const buf = w.finish();
    const read = readMessage(new Reader(buf, 'test'));
    buf.fill(0);
    expect(read.entries?.[0]?.data).toEqual(new Uint8Array([7, 8, 9]));
  });

  it('without a copy, entry data is a view of the frame and reads the same', () => {
    const w = new Writer(8);
    writeMessage(w, m);
    const buf = w.finish();
    const read = readMessage(new Reader(buf, 'test'), false);
    expect(read).toEqual(m);
    expect(read.entries?.[0]?.data.buffer).toBe(buf.buffer);
  });
});
