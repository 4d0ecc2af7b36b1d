// What a Dockerfile needs from the image store, read without building: the images its
// stages start from (`FROM`) and copy from (`COPY --from=`), after the global `ARG`s
// and the build's args are applied. The builder hands it exactly those, from the node's
// store, so it never fetches an image on its own. Pure; the builder parses the rest.
import { SkiffError } from '../../lib/index.js';

export interface DockerfileImages {
  /** Image references as the Dockerfile names them after expansion, `scratch` and stages left out. */
  images: string[];
  /** The stage names, in order (`AS name`, lower-cased); unnamed stages are ''. */
  stages: string[];
}

/**
 * The images `text` builds from, up to and including the stage `target` when given
 * (an unknown target is named in the error, as docker does).
 */
export function dockerfileImages(
  text: string,
  buildArgs: Readonly<Record<string, string>> = {},
  target?: string,
): DockerfileImages {
  const globals = new Map<string, string>();
  const stages: string[] = [];
  const images: string[] = [];
  const add = (ref: string) => {
    if (ref.toLowerCase() === 'scratch' || stages.includes(ref.toLowerCase()) || /^\d+$/.test(ref)) return;
    if (!images.includes(ref)) images.push(ref);
  };
  let done = false;
  for (const { keyword, rest } of instructions(text)) {
    if (done) {
      if (keyword === 'FROM') break;
      continue;
    }
    if (keyword === 'ARG' && stages.length === 0) {
      for (const word of rest.split(/\s+/).filter(Boolean)) {
        const eq = word.indexOf('=');
        const name = eq < 0 ? word : word.slice(0, eq);
        const def = eq < 0 ? undefined : unquote(word.slice(eq + 1));
        const value = buildArgs[name] ?? def;
        if (value !== undefined) globals.set(name, value);
      }
    } else if (keyword === 'FROM') {
      const words = rest.split(/\s+/).filter((w) => w !== '' && !w.startsWith('--'));
      const ref = expand(words[0] ?? '', globals);
      const name = words.length >= 3 && words[1]!.toLowerCase() === 'as' ? words[2]!.toLowerCase() : '';
      add(ref);
      stages.push(name);
      if (target !== undefined && name === target.toLowerCase()) done = true;
    } else if (keyword === 'COPY') {
      const from = /(?:^|\s)--from=(\S+)/.exec(rest);
      if (from) add(expand(unquote(from[1]!), globals));
    }
  }
  if (target !== undefined && !done)
    throw new SkiffError('invalid_argument', `target stage "${target}" could not be found`);
  return { images, stages };
}

/** The Dockerfile's instructions: comments dropped, continuation lines joined. */
function instructions(text: string): { keyword: string; rest: string }[] {
  const lines = text.split(/\r?\n/);
  let escapeChar = '\\';
  // A parser directive `# escape=`` ` on the first lines changes the continuation character.
  for (const line of lines) {
    const m = /^#\s*([a-z]+)\s*=\s*(\S+)\s*$/i.exec(line);
    if (!m) break;
    if (m[1]!.toLowerCase() === 'escape' && (m[2] === '`' || m[2] === '\\')) escapeChar = m[2];
  }
  const out: { keyword: string; rest: string }[] = [];
  let current = '';
  for (const raw of lines) {
    const line = raw.trimStart();
    if (current === '' && (line === '' || line.startsWith('#'))) continue;
    if (current !== '' && line.startsWith('#')) continue;
    const trimmed = line.trimEnd();
    if (trimmed.endsWith(escapeChar)) {
      current += `${trimmed.slice(0, -1)} `;
      continue;
    }
    current += trimmed;
    const m = /^(\S+)\s*(.*)$/s.exec(current);
    if (m) out.push({ keyword: m[1]!.toUpperCase(), rest: m[2]!.trim() });
    current = '';
  }
  return out;
}

/** `$NAME`, `${NAME}`, `${NAME:-default}` and `${NAME:+alt}` from the global args. */
function expand(word: string, vars: ReadonlyMap<string, string>): string {
  return word.replace(
    /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::([-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (
      _m,
      braced: string | undefined,
      op: string | undefined,
      arg: string | undefined,
      bare: string | undefined,
    ) => {
      const value = vars.get((braced ?? bare)!);
      if (op === '-') return value ? value : (arg ?? '');
      if (op === '+') return value ? (arg ?? '') : '';
      return value ?? '';
    },
  );
}

function unquote(s: string): string {
  return s.length >= 2 && (s[0] === '"' || s[0] === "'") && s.endsWith(s[0]) ? s.slice(1, -1) : s;
}
