// The .env / env_file format: KEY=VALUE lines, `export ` prefix, comments, single quotes
// (literal), double quotes (escapes, may span lines) and variable substitution from
// earlier lines and the lookup for unquoted and double-quoted values. Pure.

import { interpolate, type Lookup } from './interpolate.js';

export interface DotenvResult {
  vars: Record<string, string>;
  errors: { line: number; message: string }[];
}

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

export function parseDotenv(text: string, lookup: Lookup = () => undefined): DotenvResult {
  const vars: Record<string, string> = {};
  const errors: DotenvResult['errors'] = [];
  const look: Lookup = (n) => (Object.hasOwn(vars, n) ? vars[n] : lookup(n));
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i]!.trimStart();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('export ')) line = line.slice(7).trimStart();
    const eq = line.search(/[=:]/);
    if (eq === -1) {
      const key = line.trim();
      if (!KEY.test(key)) {
        errors.push({ line: lineNo, message: `"${key}" is not a valid variable name` });
        continue;
      }
      // A bare name takes its value from the environment, if there.
      const v = lookup(key);
      if (v !== undefined) vars[key] = v;
      continue;
    }
    const key = line.slice(0, eq).trim();
    if (!KEY.test(key)) {
      errors.push({ line: lineNo, message: `"${key}" is not a valid variable name` });
      continue;
    }
    let rest = line.slice(eq + 1).trimStart();
    const q = rest[0];
    if (q === "'" || q === '"') {
      // Find the closing quote, possibly on a later line.
      let body = rest.slice(1);
      let close = findClose(body, q);
      while (close === -1 && i + 1 < lines.length) {
        i++;
        body += `\n${lines[i]}`;
        close = findClose(body, q);
      }
      if (close === -1) {
        errors.push({ line: lineNo, message: `the value of ${key} has no closing ${q}` });
        continue;
      }
      const raw = body.slice(0, close);
      if (q === "'") vars[key] = raw;
      else {
        const unescaped = raw.replace(/\\([\\"nrt$])/g, (_m, c: string) =>
          c === 'n' ? '\n' : c === 'r' ? '\r' : c === 't' ? '\t' : c === '$' ? '$$' : c,
        );
        vars[key] = substitute(unescaped, look, key, lineNo, errors);
      }
      continue;
    }
    const hash = rest.search(/\s#/);
    if (hash !== -1) rest = rest.slice(0, hash);
    vars[key] = substitute(rest.trim(), look, key, lineNo, errors);
  }
  return { vars, errors };
}

function findClose(body: string, q: string): number {
  for (let j = 0; j < body.length; j++) {
    if (body[j] === '\\' && q === '"') j++;
    else if (body[j] === q) return j;
  }
  return -1;
}

function substitute(
  value: string,
  look: Lookup,
  key: string,
  line: number,
  errors: DotenvResult['errors'],
): string {
  const r = interpolate(value, look);
  for (const e of r.errors) errors.push({ line, message: `${key}: ${e}` });
  return r.value;
}

/** An env_file's variables: `format: raw` takes KEY=VALUE lines literally, else the .env rules. */
export function parseEnvFile(text: string, format: string | undefined, lookup: Lookup): DotenvResult {
  if (format !== 'raw') return parseDotenv(text, lookup);
  const vars: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const eq = line.indexOf('=');
    if (eq > 0 && !line.startsWith('#')) vars[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return { vars, errors: [] };
}
