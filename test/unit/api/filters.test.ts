import { describe, expect, it } from 'vitest';
import { SkiffError } from '../../../lib/index.js';
import { parseFilters } from '../../../manager/index.js';

describe("Docker's filters parameter", () => {
  const parse = (q: unknown) => parseFilters(JSON.stringify(q), ['name', 'label'], ['before']);
  const refusal = (q: unknown): SkiffError => {
    try {
      parse(q);
    } catch (e) {
      if (e instanceof SkiffError) return e;
    }
    throw new Error('not refused');
  };

  it('reads both the map and the list form', () => {
    expect(parse({ name: { a: true, b: false }, label: ['k=v'] })).toEqual(
      new Map([
        ['name', ['a']],
        ['label', ['k=v']],
      ]),
    );
    expect(parseFilters('', ['name'])).toEqual(new Map());
  });

  it('refuses unknown keys, and keys skiff cannot answer yet by name', () => {
    expect(refusal({ colour: ['red'] })).toMatchObject({
      code: 'invalid_argument',
      message: "invalid filter 'colour'",
    });
    expect(refusal({ before: ['x'] })).toMatchObject({
      code: 'invalid_argument',
      message: "filter 'before' is not supported by skiff yet",
      hint: 'this endpoint filters by name, label',
    });
    expect(refusal({ name: 'a' }).message).toBe("invalid filter 'name': expected a map or a list of values");
  });
});
