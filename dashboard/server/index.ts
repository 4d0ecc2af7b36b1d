export { type Dashboard, type DashboardOptions, type LogLine, logLines, startDashboard } from './server.js';
export type { Upstream, UpstreamRequest, UpstreamResponse } from './upstream.js';
