// Docker's multiplexed stream framing (an 8-byte header: the stream type, three zero
// bytes, the payload length big-endian; then the payload), used by logs and exec.
// skiff's exec ends its stream with one frame of type 3 holding a JSON status.

/** stdin going to the command, in a streamed exec request's body. */
export const STDIN = 0;
export const STDOUT = 1;
export const STDERR = 2;
/** The last frame of an exec stream: `{"ExitCode":n}` or `{"message":…}`. */
export const STATUS = 3;
/** In a streamed exec request with a TTY: the terminal's new size, `{"Height":h,"Width":w}`. */
export const RESIZE = 4;

export interface Frame {
  stream: number;
  payload: Buffer;
}

export function encodeFrame(stream: number, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

/** Splits a byte stream into frames, whatever the chunk boundaries. */
export async function* decodeFrames(chunks: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<Frame> {
  let buf = Buffer.alloc(0);
  for await (const chunk of chunks) {
    buf = buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([buf, chunk]);
    while (buf.length >= 8) {
      const size = buf.readUInt32BE(4);
      if (buf.length < 8 + size) break;
      yield { stream: buf[0] ?? 0, payload: buf.subarray(8, 8 + size) };
      buf = buf.subarray(8 + size);
    }
  }
  if (buf.length > 0) throw new Error(`the stream ended inside a frame (${buf.length} bytes left)`);
}
