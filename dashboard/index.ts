// The web dashboard: a server on 127.0.0.1 that serves the pages (a preact bundle built
// by esbuild into dist/dashboard/assets) and proxies reads and a few actions to the
// node the CLI talks to. `skiff dashboard` (cli/commands/dashboard.ts) starts it.
export { type Dashboard, type DashboardOptions, startDashboard, type Upstream } from './server/index.js';
