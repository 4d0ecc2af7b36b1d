// Writes docs/commands.md from the CLI's help (`npm run docs:commands`); a unit test
// fails when the file is out of date.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { commandReference } from './command-reference.js';

const target = resolve(import.meta.dirname, '../docs/commands.md');
writeFileSync(target, await commandReference());
console.log(`wrote ${target}`);
