// Variable substitution in compose values: $VAR, ${VAR}, ${VAR:-d}, ${VAR-d},
// ${VAR:?msg}, ${VAR?msg}, ${VAR:+alt}, ${VAR+alt}, nesting in the default/alternative
// part, and `$$` as a literal dollar. Pure: the caller supplies the lookup.

export type Lookup = (name: string) => string | undefined;

export interface InterpolationResult {
  value: string;
  /** Problems that make the value unusable (missing required variable, bad syntax). */
  errors: string[];
  /** Variables that were unset and had no default. */
  unset: string[];
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

export function interpolate(text: string, lookup: Lookup): InterpolationResult {
  const res: InterpolationResult = { value: '', errors: [], unset: [] };
  if (!text.includes('$')) {
    res.value = text;
    return res;
  }
  res.value = expand(text, lookup, res);
  return res;
}

function expand(s: string, lookup: Lookup, res: InterpolationResult): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const d = s.indexOf('$', i);
    if (d === -1) {
      out += s.slice(i);
      break;
    }
    out += s.slice(i, d);
    const next = s[d + 1];
    if (next === '$') {
      out += '$';
      i = d + 2;
    } else if (next === '{') {
      const end = matchingBrace(s, d + 2);
      if (end === -1) {
        res.errors.push(`invalid interpolation format in "${s}": a "\${" has no closing "}"`);
        return out + s.slice(d);
      }
      out += braced(s.slice(d + 2, end), s, lookup, res);
      i = end + 1;
    } else if (next !== undefined && NAME_START.test(next)) {
      let j = d + 2;
      while (j < s.length && NAME_CHAR.test(s[j]!)) j++;
      const name = s.slice(d + 1, j);
      const v = lookup(name);
      if (v === undefined) res.unset.push(name);
      out += v ?? '';
      i = j;
    } else {
      // Not a variable: the dollar stays as written.
      out += '$';
      i = d + 1;
    }
  }
  return out;
}

/** Index of the `}` closing a `${` whose body starts at `from`; -1 when unclosed. */
function matchingBrace(s: string, from: number): number {
  let depth = 0;
  for (let j = from; j < s.length; j++) {
    const c = s[j];
    if (c === '$' && s[j + 1] === '$') j++;
    else if (c === '$' && s[j + 1] === '{') {
      depth++;
      j++;
    } else if (c === '}') {
      if (depth === 0) return j;
      depth--;
    }
  }
  return -1;
}

function braced(body: string, whole: string, lookup: Lookup, res: InterpolationResult): string {
  let n = 0;
  while (n < body.length && (n === 0 ? NAME_START : NAME_CHAR).test(body[n]!)) n++;
  const name = body.slice(0, n);
  if (name === '') {
    res.errors.push(
      `invalid interpolation format in "${whole}": "\${${body}}" does not start with a variable name`,
    );
    return '';
  }
  const rest = body.slice(n);
  const v = lookup(name);
  if (rest === '') {
    if (v === undefined) res.unset.push(name);
    return v ?? '';
  }
  const colon = rest.startsWith(':');
  const op = colon ? rest[1] : rest[0];
  const arg = rest.slice(colon ? 2 : 1);
  // With a colon, an empty value counts as unset.
  const missing = v === undefined || (colon && v === '');
  switch (op) {
    case '-':
      return missing ? expand(arg, lookup, res) : v!;
    case '+':
      return missing ? '' : expand(arg, lookup, res);
    case '?': {
      if (!missing) return v!;
      const msg = expand(arg, lookup, res);
      res.errors.push(
        `required variable ${name} is missing a value${msg ? `: ${msg}` : ''}` +
          ` (set it in the environment or in .env / --env-file)`,
      );
      return '';
    }
    default:
      res.errors.push(
        `invalid interpolation format in "${whole}": "\${${body}}" (supported: \${VAR}, \${VAR:-default}, \${VAR-default}, \${VAR:?error}, \${VAR?error}, \${VAR:+alt}, \${VAR+alt})`,
      );
      return '';
  }
}
