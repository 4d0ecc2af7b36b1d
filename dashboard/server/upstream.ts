// The node the dashboard shows: any HTTP/1.1 transport to its API (the CLI hands in its
// own, which speaks unix socket or TCP with mTLS). The dashboard never opens a
// connection to the node by itself.
import type { Readable } from 'node:stream';

export interface UpstreamRequest {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path and query on the node's API. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export interface UpstreamResponse {
  statusCode: number;
  /** The body as it arrives (headers included for content-type). */
  body: Readable & { headers?: Record<string, string | string[] | undefined> };
  text(): Promise<string>;
}

export interface Upstream {
  request(r: UpstreamRequest): Promise<UpstreamResponse>;
}

/** An API error as the node words it (`{"message"}`), with its HTTP status. */
export class UpstreamError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

export async function getJson<T>(up: Upstream, path: string, signal?: AbortSignal): Promise<T> {
  const res = await up.request({ method: 'GET', path, ...(signal ? { signal } : {}) });
  const text = await res.text();
  if (res.statusCode >= 400) throw new UpstreamError(res.statusCode, messageOf(text, res.statusCode));
  return JSON.parse(text) as T;
}

export async function postJson(up: Upstream, path: string, body: unknown): Promise<void> {
  const res = await up.request({
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.statusCode >= 400) throw new UpstreamError(res.statusCode, messageOf(text, res.statusCode));
}

export async function deleteAt(up: Upstream, path: string): Promise<void> {
  const res = await up.request({ method: 'DELETE', path });
  const text = await res.text();
  if (res.statusCode >= 400) throw new UpstreamError(res.statusCode, messageOf(text, res.statusCode));
}

function messageOf(text: string, status: number): string {
  try {
    const m = (JSON.parse(text) as { message?: unknown }).message;
    if (typeof m === 'string' && m !== '') return m;
  } catch {
    // not JSON
  }
  return text.trim() || `HTTP ${status}`;
}
