// The mount table, for removing what a lab's processes mounted.
import { readFileSync } from 'node:fs';

/** Mount points of this mount namespace, deepest first. */
export function listMounts(): string[] {
  let text: string;
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((p) => p !== '')
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8))))
    .sort((a, b) => b.length - a.length);
}
