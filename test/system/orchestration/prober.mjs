// A client inside a lab host's network namespace: GET /?port=P&ips=a,b,c fetches
// http://IP:P/ from each IP (the replicas on this host, reached over the overlay
// bridge) and answers with what each one said, or null when it did not answer.
// Usage: node prober.mjs LISTEN_ADDR LISTEN_PORT
import http from 'node:http';

const [addr, port] = process.argv.slice(2);

function fetchOnce(ip, p) {
  return new Promise((resolve) => {
    const req = http.get({ host: ip, port: p, path: '/', timeout: 3000, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : null));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

http
  .createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const ips = (url.searchParams.get('ips') ?? '').split(',').filter(Boolean);
    const p = Number(url.searchParams.get('port') ?? '80');
    const answers = await Promise.all(ips.map((ip) => fetchOnce(ip, p)));
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(Object.fromEntries(ips.map((ip, i) => [ip, answers[i]]))));
  })
  .listen(Number(port), addr, () => process.stdout.write('prober ready\n'));
