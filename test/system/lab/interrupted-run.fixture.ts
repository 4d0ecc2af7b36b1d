// A test run that gets interrupted: creates a lab with a process in it, prints the
// lab's prefix and waits to be killed (interrupted-run.test.ts sends the signal).
import { createLab } from '../../lab/index.js';

const lab = await createLab({ hosts: 2, hostAccess: true });
lab.hosts[0]?.spawn('sleep', ['600']);
process.stdout.write(`${lab.prefix}\n`);
setInterval(() => {}, 60_000);
