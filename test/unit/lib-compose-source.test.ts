// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose files use ${VAR} syntax, which these tests feed in and expect back as written
// The compose-source label's codec (lib/compose-source.ts): what the deployer writes the
// dashboard reads back, capped at a line end past COMPOSE_SOURCE_MAX_BYTES.
import { describe, expect, it } from 'vitest';
import {
  COMPOSE_SOURCE_MAX_BYTES,
  decodeComposeSource,
  encodeComposeSource,
  isSkiffError,
} from '../../lib/index.js';

describe('compose source label', () => {
  it('round-trips the parts, in order', () => {
    const parts = [
      { file: 'compose.yaml', line: 3, text: '# front\nweb:\n  image: app:${TAG}' },
      { file: 'compose.override.yaml', line: 2, text: 'web:\n  ports: ["8080:80"]' },
    ];
    expect(decodeComposeSource(encodeComposeSource(parts))).toEqual({ parts });
  });

  it('cuts the text at a line end past the cap and says how much there was', () => {
    const line = 'x'.repeat(99);
    const big = Array.from({ length: 300 }, () => line).join('\n'); // 29,999 bytes
    const parts = [
      { file: 'a.yaml', line: 1, text: 'web:\n  image: a' },
      { file: 'b.yaml', line: 1, text: big },
      { file: 'c.yaml', line: 1, text: 'web: {}' },
    ];
    const got = decodeComposeSource(encodeComposeSource(parts));
    const total = parts.reduce((n, p) => n + Buffer.byteLength(p.text), 0);
    expect(got.truncatedFrom).toBe(total);
    expect(got.parts.map((p) => p.file)).toEqual(['a.yaml', 'b.yaml']);
    const kept = got.parts.reduce((n, p) => n + Buffer.byteLength(p.text), 0);
    expect(kept).toBeLessThanOrEqual(COMPOSE_SOURCE_MAX_BYTES);
    expect(kept).toBeGreaterThan(COMPOSE_SOURCE_MAX_BYTES - 100);
    expect(got.parts[1]?.text.split('\n').every((l) => l === line)).toBe(true);
  });

  it('refuses a malformed label with a typed error', () => {
    for (const bad of ['{', '[]', '{"parts":[{"file":"a","line":"1","text":""}]}', '{"parts":{}}']) {
      let err: unknown;
      try {
        decodeComposeSource(bad);
      } catch (e) {
        err = e;
      }
      expect(isSkiffError(err) && err.code === 'invalid_argument').toBe(true);
    }
  });
});
