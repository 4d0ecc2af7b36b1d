// Layer decompression. gzip uses Node's zlib; Node 20 has no zstd, so zstd layers go
// through the zstd CLI (Debian `zstd`, installed by scripts/setup) as a pipe.
import { spawn } from 'node:child_process';
import { PassThrough, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { SkiffError } from '../../lib/index.js';
import type { Compression } from './manifest.js';

/** Decompresses `input` (which it consumes) into an uncompressed stream. */
export function decompress(input: Readable, compression: Compression): Readable {
  switch (compression) {
    case 'none':
      return input;
    case 'gzip': {
      const gunzip = createGunzip({ chunkSize: 256 * 1024 });
      input.on('error', (e) => gunzip.destroy(e));
      return input.pipe(gunzip);
    }
    case 'zstd':
      return spawnDecompressor(input, 'zstd');
  }
}

export function spawnDecompressor(input: Readable, tool: 'zstd'): Readable {
  const out = new PassThrough();
  const child = spawn(tool, ['-d', '-c', '-q'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d.slice(0, 500);
  });
  child.on('error', (e) => {
    out.destroy(
      new SkiffError('unavailable', `cannot run ${tool} to unpack a ${tool} layer: ${e.message}`, {
        hint: 'install it (apt-get install zstd) or run scripts/setup',
      }),
    );
  });
  input.on('error', (e) => {
    child.kill();
    out.destroy(e);
  });
  child.stdin.on('error', () => undefined); // the child exiting early is reported by its status
  input.pipe(child.stdin);
  child.stdout.pipe(out, { end: false });
  let stdoutEnded = false;
  let exitCode: number | null | undefined;
  const finish = () => {
    if (!stdoutEnded || exitCode === undefined) return;
    if (exitCode === 0) out.end();
    else
      out.destroy(
        new SkiffError(
          'corrupt',
          `${tool} could not decompress the layer: ${stderr.trim() || `exit ${exitCode}`}`,
        ),
      );
  };
  child.stdout.on('end', () => {
    stdoutEnded = true;
    finish();
  });
  child.on('close', (code) => {
    exitCode = code;
    finish();
  });
  out.on('close', () => {
    if (exitCode === undefined) child.kill();
  });
  return out;
}
