export { type Dashboard, type DashboardOptions, startDashboard } from './server.js';
export type { Upstream, UpstreamRequest, UpstreamResponse } from './upstream.js';
