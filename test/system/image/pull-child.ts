// A pull in a process of its own, without unpacking, for a test to kill midway:
// `node --import tsx pull-child.ts ROOT REF`.
import { join } from 'node:path';
import { ImageService } from '../../../agent/image/index.js';

const [root, ref] = process.argv.slice(2);
if (!root || !ref) throw new Error('usage: pull-child.ts ROOT REF');
const images = new ImageService({ root, authFile: join(root, 'auth.json') });
try {
  await images.pull(ref);
} finally {
  await images.close();
}
