// Compose loading benchmark: a 200-service project split over 3 files (base, a dev-style
// override, a prod-style override with deploy sections), loaded end to end — read,
// parse with positions, interpolate, validate, merge, normalize, check — many times.
//
//   npx tsx bench/compose-load.ts         # a JSON record on stdout, then a table line on stderr
//
// Record: { name, metric, unit, value }. Target: median under 50 ms.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadProjectSync } from '../compose/index.js';

const SERVICES = 200;
const WARMUP = 5;
const RUNS = 40;

function base(): string {
  const lines = [
    'name: bench',
    'x-common: &common',
    '  restart: unless-stopped',
    '  logging: {driver: json-file, options: {max-size: 10m}}',
    'services:',
  ];
  for (let i = 0; i < SERVICES; i++) {
    const dep = i > 0 ? `\n    depends_on:\n      svc${i - 1}:\n        condition: service_started` : '';
    lines.push(
      `  svc${i}:`,
      '    <<: *common',
      `    image: registry.example.com/team/svc${i}:\${TAG:-1.0.${i}}`,
      `    command: ["serve", "--port", "${8000 + (i % 100)}"]`,
      '    environment:',
      `      SERVICE_NAME: svc${i}`,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: compose interpolation in the generated file
      '      LOG_LEVEL: ${LOG_LEVEL:-info}',
      `      DATABASE_URL: postgres://app:app@db${i % 5}:5432/app`,
      `    ports: ["${20000 + i}:${8000 + (i % 100)}"]`,
      `    volumes: ["data${i % 20}:/var/lib/app", "./conf/svc${i}:/etc/app:ro"]`,
      '    networks: [front, back]',
      '    healthcheck:',
      '      test: ["CMD", "wget", "-qO-", "http://localhost/health"]',
      '      interval: 30s',
      '      timeout: 5s',
      '      retries: 3',
      `    labels: [com.example.team=team${i % 7}, com.example.tier=web]${dep}`,
    );
  }
  lines.push(
    'networks:',
    '  front: {driver: overlay}',
    '  back: {driver: overlay, internal: true}',
    'volumes:',
  );
  for (let v = 0; v < 20; v++) lines.push(`  data${v}: {}`);
  return `${lines.join('\n')}\n`;
}

function dev(): string {
  const lines = ['services:'];
  for (let i = 0; i < SERVICES; i += 2) {
    lines.push(
      `  svc${i}:`,
      '    environment: [LOG_LEVEL=debug, DEV=1]',
      `    volumes: ["./src/svc${i}:/app/src"]`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function prod(): string {
  const lines = ['services:'];
  for (let i = 0; i < SERVICES; i++) {
    lines.push(
      `  svc${i}:`,
      '    deploy:',
      `      replicas: ${1 + (i % 4)}`,
      '      resources: {limits: {cpus: "0.5", memory: 256m}}',
      '      update_config: {parallelism: 1, delay: 10s, order: start-first}',
      '      placement: {constraints: [node.role == worker]}',
    );
  }
  return `${lines.join('\n')}\n`;
}

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-compose-'));
  try {
    const files = [
      ['compose.yaml', base()],
      ['compose.dev.yaml', dev()],
      ['compose.prod.yaml', prod()],
    ].map(([name, text]) => {
      const p = join(dir, name!);
      writeFileSync(p, text!);
      return p;
    });
    const env = { TAG: '2.0' };
    const times: number[] = [];
    const cpuTimes: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const r = loadProjectSync({ files, env });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      const cpu = process.cpuUsage(c0);
      if (i >= WARMUP) cpuTimes.push((cpu.user + cpu.system) / 1e3);
      if (!r.ok) throw new Error(`benchmark project failed to load: ${r.errors[0]?.message}`);
      if (Object.keys(r.project.services).length !== SERVICES) throw new Error('wrong service count');
      if (i >= WARMUP) times.push(ms);
    }
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)]!;
    const rec = {
      name: 'compose.load[200 services, 3 files]',
      metric: 'median',
      unit: 'ms',
      value: Math.round(median * 10) / 10,
    };
    process.stdout.write(`${JSON.stringify(rec)}\n`);
    // CPU time (user + system) of the process: a check on the wall figure when the machine is busy.
    cpuTimes.sort((a, b) => a - b);
    const cpuMedian = cpuTimes[Math.floor(cpuTimes.length / 2)]!;
    const cpuRec = {
      name: rec.name,
      metric: 'median cpu',
      unit: 'ms',
      value: Math.round(cpuMedian * 10) / 10,
    };
    process.stdout.write(`${JSON.stringify(cpuRec)}\n`);
    const p90 = times[Math.floor(times.length * 0.9)]!;
    process.stderr.write(
      `${rec.name}  median ${rec.value} ms  p90 ${p90.toFixed(1)} ms  min ${times[0]!.toFixed(1)} ms  cpu median ${cpuRec.value} ms  (${RUNS} runs, target < 50 ms)\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
