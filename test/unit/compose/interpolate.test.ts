// biome-ignore-all lint/suspicious/noTemplateCurlyInString: compose files use ${VAR} syntax, which is what these tests feed in
import { describe, expect, it } from 'vitest';
import { parseDotenv } from '../../../compose/dotenv.js';
import { interpolate } from '../../../compose/interpolate.js';

const env: Record<string, string> = { A: 'a', EMPTY: '', B: 'b' };
const look = (n: string) => env[n];
const value = (t: string) => interpolate(t, look).value;

describe('interpolate', () => {
  it('substitutes $VAR and ${VAR}', () => {
    expect(value('x-$A-${B}-$A_not')).toBe('x-a-b-');
    expect(interpolate('$A_not', look).unset).toEqual(['A_not']);
  });

  it('applies :- and - defaults by the unset/empty rules', () => {
    expect(value('${EMPTY:-d}')).toBe('d');
    expect(value('${EMPTY-d}')).toBe('');
    expect(value('${NOPE-d}')).toBe('d');
    expect(value('${A:-d}')).toBe('a');
  });

  it('applies :+ and + alternatives', () => {
    expect(value('${A:+alt}')).toBe('alt');
    expect(value('${EMPTY:+alt}')).toBe('');
    expect(value('${EMPTY+alt}')).toBe('alt');
    expect(value('${NOPE+alt}')).toBe('');
  });

  it('reports required variables with their message', () => {
    const r = interpolate('${NOPE:?set NOPE please}', look);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toContain('required variable NOPE is missing a value: set NOPE please');
    expect(interpolate('${EMPTY?x}', look).errors).toEqual([]);
    expect(interpolate('${EMPTY:?x}', look).errors).toHaveLength(1);
  });

  it('nests in defaults and evaluates them lazily', () => {
    expect(value('${NOPE:-${B:-c}}')).toBe('b');
    expect(value('${NOPE:-${NOPE2:-c}}')).toBe('c');
    expect(value('${NOPE:-x${A}y}')).toBe('xay');
    expect(interpolate('${A:-${NOPE:?never evaluated}}', look).errors).toEqual([]);
  });

  it('keeps $$ as a literal dollar and other dollars as written', () => {
    expect(value('$$A')).toBe('$A');
    expect(value('$${A}')).toBe('${A}');
    expect(value('cost $5 and $')).toBe('cost $5 and $');
    expect(value('${NOPE:-$$}')).toBe('$');
  });

  it('rejects malformed braces', () => {
    expect(interpolate('${A', look).errors[0]).toContain('no closing');
    expect(interpolate('${}', look).errors[0]).toContain('does not start with a variable name');
    expect(interpolate('${A/x/y}', look).errors[0]).toContain('invalid interpolation format');
  });
});

describe('parseDotenv', () => {
  it('reads the .env format', () => {
    const r = parseDotenv(
      [
        '# comment',
        'export A=1',
        'B = two words # trailing comment',
        "C='single $A kept'",
        'D="double\\nline ${A}"',
        'E="multi',
        'line"',
        'F=${A}-${MISSING:-dflt}',
        'G',
        'H=',
      ].join('\n'),
      (n) => (n === 'G' ? 'from-env' : undefined),
    );
    expect(r.errors).toEqual([]);
    expect(r.vars).toEqual({
      A: '1',
      B: 'two words',
      C: 'single $A kept',
      D: 'double\nline 1',
      E: 'multi\nline',
      F: '1-dflt',
      G: 'from-env',
      H: '',
    });
  });

  it('reports bad lines with their number', () => {
    const r = parseDotenv('A=1\n1BAD=2\nC="open');
    expect(r.errors.map((e) => e.line)).toEqual([2, 3]);
  });
});
