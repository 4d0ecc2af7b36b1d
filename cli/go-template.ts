// The subset of Go's text/template that docker users type after --format: field chains
// (`{{.Spec.Name}}`, `{{.}}`, `{{$}}`), pipelines (`{{.Name | upper}}`), variables
// (`{{$x := .A}}`, `{{range $k, $v := .Labels}}`), if / else if / else, range (with
// else), with, `{{- trim -}}` markers, literals, parentheses, and the functions docker
// adds (json, join, split, lower, upper, title, pad, truncate, println) next to Go's
// (len, index, printf, print, eq, ne, lt, le, gt, ge, and, or, not). Written here because
// the npm Go-template ports lack `json`, pipelines and custom functions (see the report).
// Pure: templates are parsed once and executed on plain JSON values.

export class TemplateError extends Error {
  constructor(message: string) {
    super(`template: ${message}`);
    this.name = 'TemplateError';
  }
}

type Value = unknown;

// ------------------------------------------------------------------------ lexing

type Arg =
  | { kind: 'field'; base: 'dot' | 'root' | { variable: string }; path: string[] }
  | { kind: 'literal'; value: Value }
  | { kind: 'func'; name: string }
  | { kind: 'pipe'; pipe: Pipeline };

interface Command {
  args: Arg[];
}
interface Pipeline {
  decl: string[];
  cmds: Command[];
}

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'action'; pipe: Pipeline }
  | { kind: 'if'; branches: { pipe: Pipeline; body: Node[] }[]; otherwise: Node[] }
  | { kind: 'with'; branches: { pipe: Pipeline; body: Node[] }[]; otherwise: Node[] }
  | { kind: 'range'; pipe: Pipeline; body: Node[]; otherwise: Node[] };

const TOKEN =
  /\s+|\(|\)|\||:=|,|"(?:[^"\\]|\\.)*"|`[^`]*`|'(?:[^'\\]|\\.)'|-?\d+(?:\.\d+)?|\$[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*|(?:\.[A-Za-z0-9_]+)+|\.|[A-Za-z_][A-Za-z0-9_]*/y;

function tokenize(src: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < src.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(src);
    if (!m) throw new TemplateError(`unexpected "${src.slice(at, at + 10)}" in "{{${src}}}"`);
    if (!/^\s+$/.test(m[0])) out.push(m[0]);
  }
  return out;
}

class ActionParser {
  private i = 0;
  constructor(
    private readonly toks: string[],
    private readonly src: string,
  ) {}

  done(): boolean {
    return this.i >= this.toks.length;
  }

  pipeline(): Pipeline {
    const decl: string[] = [];
    // `$x :=` or `$k, $v :=`
    const save = this.i;
    while (this.toks[this.i]?.startsWith('$') && /^\$[A-Za-z0-9_]*$/.test(this.toks[this.i]!)) {
      decl.push(this.toks[this.i]!);
      this.i++;
      if (this.toks[this.i] === ',') this.i++;
      else break;
    }
    if (decl.length > 0 && this.toks[this.i] === ':=') this.i++;
    else {
      decl.length = 0;
      this.i = save;
    }
    const cmds: Command[] = [this.command()];
    while (this.toks[this.i] === '|') {
      this.i++;
      cmds.push(this.command());
    }
    return { decl, cmds };
  }

  private command(): Command {
    const args: Arg[] = [];
    while (!this.done() && this.toks[this.i] !== '|' && this.toks[this.i] !== ')') {
      args.push(this.operand());
    }
    if (args.length === 0) throw new TemplateError(`missing value in "{{${this.src}}}"`);
    return { args };
  }

  private operand(): Arg {
    const t = this.toks[this.i++]!;
    if (t === '(') {
      const pipe = this.pipeline();
      if (this.toks[this.i++] !== ')') throw new TemplateError(`unclosed "(" in "{{${this.src}}}"`);
      return { kind: 'pipe', pipe };
    }
    if (t === '.') return { kind: 'field', base: 'dot', path: [] };
    if (t.startsWith('.')) return { kind: 'field', base: 'dot', path: t.slice(1).split('.') };
    if (t.startsWith('$')) {
      const [v, ...path] = t.split('.');
      return { kind: 'field', base: v === '$' ? 'root' : { variable: v! }, path };
    }
    if (t.startsWith('"')) return { kind: 'literal', value: JSON.parse(t) as string };
    if (t.startsWith('`')) return { kind: 'literal', value: t.slice(1, -1) };
    if (t.startsWith("'"))
      return { kind: 'literal', value: (JSON.parse(`"${t.slice(1, -1)}"`) as string).codePointAt(0) };
    if (/^-?\d/.test(t)) return { kind: 'literal', value: Number(t) };
    if (t === 'true' || t === 'false') return { kind: 'literal', value: t === 'true' };
    if (t === 'nil') return { kind: 'literal', value: null };
    if (/^[A-Za-z_]/.test(t)) {
      if (!Object.hasOwn(FUNCS, t)) throw new TemplateError(`function "${t}" not defined`);
      return { kind: 'func', name: t };
    }
    throw new TemplateError(`unexpected "${t}" in "{{${this.src}}}"`);
  }
}

/** Splits into text and actions, honouring `{{-` and `-}}` whitespace trimming. */
function lex(src: string): ({ text: string } | { action: string })[] {
  const out: ({ text: string } | { action: string })[] = [];
  let i = 0;
  let trimNext = false;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = src.slice(i, open === -1 ? src.length : open);
    if (trimNext) text = text.replace(/^\s+/, '');
    trimNext = false;
    if (open === -1) {
      if (text) out.push({ text });
      break;
    }
    let body = src.slice(open + 2);
    if (body.startsWith('- ')) {
      text = text.replace(/\s+$/, '');
      body = body.slice(1);
    }
    if (text) out.push({ text });
    const close = findClose(body);
    if (close === -1) throw new TemplateError(`unclosed action: "${src.slice(open)}"`);
    let action = body.slice(0, close);
    if (action.endsWith(' -')) {
      action = action.slice(0, -1);
      trimNext = true;
    }
    out.push({ action: action.trim() });
    i = open + 2 + (src.slice(open + 2).length - body.length) + close + 2;
  }
  return out;
}

/** The `}}` that closes an action, skipping quoted strings. */
function findClose(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"' || c === '`') {
      const end = c === '"' ? /"(?:[^"\\]|\\.)*"/y : /`[^`]*`/y;
      end.lastIndex = i;
      const m = end.exec(s);
      if (!m) return -1;
      i += m[0].length - 1;
    } else if (c === '}' && s[i + 1] === '}') return i;
  }
  return -1;
}

function parse(src: string): Node[] {
  const items = lex(src);
  let pos = 0;
  const block = (terminators: string[]): { nodes: Node[]; end: string } => {
    const nodes: Node[] = [];
    while (pos < items.length) {
      const it = items[pos++]!;
      if ('text' in it) {
        nodes.push({ kind: 'text', text: it.text });
        continue;
      }
      const a = it.action;
      if (a.startsWith('/*')) continue;
      const word = /^[a-z]+/.exec(a)?.[0] ?? '';
      if (word === 'end' || (word === 'else' && terminators.includes('else'))) {
        if (!terminators.includes(word)) throw new TemplateError(`unexpected {{${a}}}`);
        return { nodes, end: a };
      }
      if (word === 'else') throw new TemplateError(`unexpected {{${a}}}`);
      if (word === 'if' || word === 'with' || word === 'range') {
        nodes.push(control(word, a.slice(word.length)));
        continue;
      }
      nodes.push({ kind: 'action', pipe: pipelineOf(a) });
    }
    if (terminators.length > 0) throw new TemplateError('unexpected end of template: missing {{end}}');
    return { nodes, end: '' };
  };
  const control = (word: 'if' | 'with' | 'range', rest: string): Node => {
    const branches: { pipe: Pipeline; body: Node[] }[] = [];
    let pipe = pipelineOf(rest);
    for (;;) {
      const b = block(['else', 'end']);
      branches.push({ pipe, body: b.nodes });
      if (b.end === 'end') return build(word, branches, []);
      const elseRest = b.end.slice(4).trim();
      if (elseRest.startsWith(`${word === 'range' ? '\0' : word} `)) {
        pipe = pipelineOf(elseRest.slice(word.length));
        continue;
      }
      if (elseRest !== '') throw new TemplateError(`unexpected {{${b.end}}}`);
      const o = block(['end']);
      return build(word, branches, o.nodes);
    }
  };
  const build = (
    word: 'if' | 'with' | 'range',
    branches: { pipe: Pipeline; body: Node[] }[],
    otherwise: Node[],
  ): Node => {
    if (word === 'range')
      return { kind: 'range', pipe: branches[0]!.pipe, body: branches[0]!.body, otherwise };
    return word === 'if' ? { kind: 'if', branches, otherwise } : { kind: 'with', branches, otherwise };
  };
  return block([]).nodes;
}

function pipelineOf(src: string): Pipeline {
  const p = new ActionParser(tokenize(src), src);
  const pipe = p.pipeline();
  if (!p.done()) throw new TemplateError(`unexpected ")" in "{{${src}}}"`);
  return pipe;
}

// ------------------------------------------------------------------------ executing

interface Scope {
  dot: Value;
  root: Value;
  vars: Map<string, Value>;
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

function truthy(v: Value): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isObj(v)) return Object.keys(v).length > 0;
  return true;
}

/** Go's fmt %v for JSON values: maps as map[k:v] (sorted), slices as [a b]. */
export function goFormat(v: Value): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.map(goFormat).join(' ')}]`;
  if (isObj(v)) {
    return `map[${Object.keys(v)
      .sort()
      .map((k) => `${k}:${goFormat(v[k])}`)
      .join(' ')}]`;
  }
  return String(v);
}

function field(v: Value, path: string[], strict: boolean): Value {
  let cur = v;
  for (const name of path) {
    if (isObj(cur)) {
      if (!Object.hasOwn(cur, name)) {
        if (strict) throw new TemplateError(`can't evaluate field ${name}`);
        return undefined;
      }
      cur = cur[name];
    } else if (cur === undefined || cur === null) {
      return undefined;
    } else {
      throw new TemplateError(
        `can't evaluate field ${name} in type ${Array.isArray(cur) ? 'slice' : typeof cur}`,
      );
    }
  }
  return cur;
}

const compare =
  (name: string, f: (a: number | string, b: number | string) => boolean) => (a: Value, b: Value) => {
    if ((typeof a !== 'number' && typeof a !== 'string') || typeof a !== typeof b)
      throw new TemplateError(`${name}: incompatible types for comparison`);
    return f(a as number | string, b as number | string);
  };

const title = (s: string) =>
  s.replace(/(^|[^A-Za-z0-9])([a-z])/g, (_m, p: string, c: string) => p + c.toUpperCase());

function printf(fmt: string, ...args: Value[]): string {
  let n = 0;
  return fmt.replace(/%([-+# 0]*\d*(?:\.\d+)?)([vsdqtxf%])/g, (_m, flags: string, verb: string) => {
    if (verb === '%') return '%';
    const a = args[n++];
    let s: string;
    if (verb === 'q') s = JSON.stringify(typeof a === 'string' ? a : goFormat(a));
    else if (verb === 'd') s = String(Math.trunc(Number(a)));
    else if (verb === 'x') s = Number(a).toString(16);
    else if (verb === 'f') {
      const prec = /\.(\d+)/.exec(flags)?.[1];
      s = Number(a).toFixed(prec === undefined ? 6 : Number(prec));
    } else s = goFormat(a);
    const width = Number(/^[-+# 0]*(\d+)/.exec(flags)?.[1] ?? 0);
    return flags.includes('-') ? s.padEnd(width) : s.padStart(width);
  });
}

const FUNCS: Record<string, (...args: Value[]) => Value> = {
  json: (v) => JSON.stringify(v ?? null),
  join: (list, sep) => (Array.isArray(list) ? list.map(goFormat).join(String(sep)) : goFormat(list)),
  split: (s, sep) => String(s).split(String(sep)),
  lower: (s) => String(s).toLowerCase(),
  upper: (s) => String(s).toUpperCase(),
  title: (s) => title(String(s)),
  pad: (s, before, after) => `${' '.repeat(Number(before))}${goFormat(s)}${' '.repeat(Number(after))}`,
  truncate: (s, n) => [...goFormat(s)].slice(0, Number(n)).join(''),
  len: (v) => {
    if (typeof v === 'string' || Array.isArray(v)) return v.length;
    if (isObj(v)) return Object.keys(v).length;
    throw new TemplateError(`len of ${goFormat(v)}`);
  },
  index: (v, ...keys) => {
    let cur = v;
    for (const k of keys) {
      if (Array.isArray(cur) && typeof k === 'number') {
        if (k < 0 || k >= cur.length) throw new TemplateError(`index out of range: ${k}`);
        cur = cur[k];
      } else if (isObj(cur)) cur = cur[String(k)];
      else if (cur === undefined || cur === null) return undefined;
      else throw new TemplateError(`can't index item of type ${typeof cur}`);
    }
    return cur;
  },
  print: (...a) => a.map(goFormat).join(''),
  println: (...a) => `${a.map(goFormat).join(' ')}\n`,
  printf: (fmt, ...a) => printf(String(fmt), ...a),
  eq: (a, ...bs) => bs.some((b) => a === b),
  ne: (a, b) => a !== b,
  lt: compare('lt', (a, b) => a < b),
  le: compare('le', (a, b) => a <= b),
  gt: compare('gt', (a, b) => a > b),
  ge: compare('ge', (a, b) => a >= b),
  and: (...a) => a.find((x) => !truthy(x)) ?? a[a.length - 1],
  or: (...a) => a.find((x) => truthy(x)) ?? a[a.length - 1],
  not: (a) => !truthy(a),
};

class Exec {
  constructor(private readonly strict: boolean) {}

  run(nodes: Node[], s: Scope, out: string[]): void {
    for (const n of nodes) {
      if (n.kind === 'text') out.push(n.text);
      else if (n.kind === 'action') {
        const v = this.pipe(n.pipe, s);
        if (n.pipe.decl.length === 0) out.push(goFormat(v));
      } else if (n.kind === 'if' || n.kind === 'with') {
        let taken = false;
        for (const b of n.branches) {
          const v = this.pipe(b.pipe, s);
          if (!truthy(v)) continue;
          this.run(b.body, { ...s, dot: n.kind === 'with' ? v : s.dot, vars: new Map(s.vars) }, out);
          taken = true;
          break;
        }
        if (!taken) this.run(n.otherwise, s, out);
      } else {
        const v = this.pipe({ ...n.pipe, decl: [] }, s);
        const entries: [Value, Value][] = Array.isArray(v)
          ? v.map((x, i) => [i, x])
          : isObj(v)
            ? Object.keys(v)
                .sort()
                .map((k) => [k, v[k]])
            : v === undefined || v === null
              ? []
              : typeof v === 'number'
                ? Array.from({ length: v }, (_x, i) => [i, i])
                : (() => {
                    throw new TemplateError(`range can't iterate over ${goFormat(v)}`);
                  })();
        if (entries.length === 0) {
          this.run(n.otherwise, s, out);
          continue;
        }
        for (const [k, x] of entries) {
          const vars = new Map(s.vars);
          const d = n.pipe.decl;
          if (d.length === 1) vars.set(d[0]!, x);
          else if (d.length === 2) {
            vars.set(d[0]!, k);
            vars.set(d[1]!, x);
          }
          this.run(n.body, { ...s, dot: x, vars }, out);
        }
      }
    }
  }

  pipe(p: Pipeline, s: Scope): Value {
    let v: Value;
    let first = true;
    for (const c of p.cmds) {
      v = this.command(c, s, first ? undefined : { v });
      first = false;
    }
    if (p.decl.length === 1) s.vars.set(p.decl[0]!, v);
    return v;
  }

  private command(c: Command, s: Scope, piped: { v: Value } | undefined): Value {
    const [head, ...rest] = c.args;
    if (head!.kind === 'func') {
      const args = rest.map((a) => this.arg(a, s));
      if (piped) args.push(piped.v);
      return FUNCS[head!.name]!(...args);
    }
    if (rest.length > 0 || piped) throw new TemplateError(`can't give an argument to a non-function`);
    return this.arg(head!, s);
  }

  private arg(a: Arg, s: Scope): Value {
    if (a.kind === 'literal') return a.value;
    if (a.kind === 'pipe') return this.pipe(a.pipe, s);
    if (a.kind === 'func') return FUNCS[a.name]!();
    let base: Value;
    if (a.base === 'dot') base = s.dot;
    else if (a.base === 'root') base = s.root;
    else {
      if (!s.vars.has(a.base.variable)) throw new TemplateError(`undefined variable "${a.base.variable}"`);
      base = s.vars.get(a.base.variable);
    }
    return field(base, a.path, this.strict);
  }
}

export interface CompiledTemplate {
  /** Renders the template with `.` set to `data`. */
  render(data: Value): string;
}

/**
 * Parses a template. `strict`: a missing field is an error (docker's list rows are Go
 * structs); otherwise it prints `<no value>` as on docker inspect's JSON maps.
 */
export function compileTemplate(src: string, opts: { strict?: boolean } = {}): CompiledTemplate {
  const nodes = parse(src);
  const exec = new Exec(opts.strict === true);
  return {
    render(data) {
      const out: string[] = [];
      exec.run(nodes, { dot: data, root: data, vars: new Map([['$', data]]) }, out);
      return out.join('');
    },
  };
}
