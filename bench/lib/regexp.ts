/** A RegExp source matching `s` literally (for peers' leftover signatures). */
export function literal(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
