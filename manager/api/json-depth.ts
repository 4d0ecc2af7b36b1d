// JSON bodies nested deeper than any request needs are refused before parsing: the
// schema checks and the store recurse over a body, and ~2,200 levels overflowed the
// stack into a 500.

/** Deepest nesting of objects and arrays a request body may have (a service spec needs about 10). */
export const MAX_JSON_DEPTH = 256;

/** Whether `text` (JSON or not) opens more than `max` objects/arrays at once, strings skipped. */
export function jsonNestedDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}
