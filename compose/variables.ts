// The variables a compose file's values refer to (`compose config --variables`): each
// `${NAME…}` / `$NAME` with whether it is required (`:?`/`?`), its default (`:-`/`-`)
// and its alternate value (`:+`/`+`), nested references included. `$$` is a literal.
// Pure: the caller hands over the parsed YAML.

export interface ComposeVariable {
  name: string;
  required: boolean;
  defaultValue: string;
  alternateValue: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** Every variable referenced in the values (and keys) of a parsed compose document, by name. */
export function extractVariables(
  doc: unknown,
  into = new Map<string, ComposeVariable>(),
): Map<string, ComposeVariable> {
  const walk = (v: unknown): void => {
    if (typeof v === 'string') scan(v, into);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        scan(k, into);
        walk(x);
      }
    }
  };
  walk(doc);
  return into;
}

function scan(s: string, into: Map<string, ComposeVariable>): void {
  let i = 0;
  while (i < s.length) {
    const d = s.indexOf('$', i);
    if (d === -1) return;
    const next = s[d + 1];
    if (next === '$') {
      i = d + 2;
      continue;
    }
    if (next === '{') {
      const end = closing(s, d + 2);
      if (end === -1) return;
      const body = s.slice(d + 2, end);
      const m = NAME.exec(body);
      if (m) {
        const rest = body.slice(m[0].length);
        const v: ComposeVariable = { name: m[0], required: false, defaultValue: '', alternateValue: '' };
        const op = /^(:\?|\?|:-|-|:\+|\+)/.exec(rest)?.[0];
        const arg = op ? rest.slice(op.length) : '';
        if (op === ':?' || op === '?') v.required = true;
        else if (op === ':-' || op === '-') v.defaultValue = arg;
        else if (op === ':+' || op === '+') v.alternateValue = arg;
        remember(v, into);
        if (arg.includes('$')) scan(arg, into);
      }
      i = end + 1;
      continue;
    }
    const m = NAME.exec(s.slice(d + 1));
    if (m) remember({ name: m[0], required: false, defaultValue: '', alternateValue: '' }, into);
    i = d + 1 + (m ? m[0].length : 0);
  }
}

/** A variable seen twice keeps what either use says (required wins, first default wins). */
function remember(v: ComposeVariable, into: Map<string, ComposeVariable>): void {
  const prev = into.get(v.name);
  if (!prev) {
    into.set(v.name, v);
    return;
  }
  prev.required ||= v.required;
  if (prev.defaultValue === '') prev.defaultValue = v.defaultValue;
  if (prev.alternateValue === '') prev.alternateValue = v.alternateValue;
}

function closing(s: string, from: number): number {
  let depth = 1;
  for (let i = from; i < s.length; i++) {
    if (s[i] === '{') depth++;
    else if (s[i] === '}' && --depth === 0) return i;
  }
  return -1;
}
