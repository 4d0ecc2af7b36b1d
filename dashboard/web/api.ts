// The dashboard server's API as the pages use it (same origin; the session cookie rides along).

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function check(r: Response): Promise<Response> {
  if (r.ok) return r;
  let message = `HTTP ${r.status}`;
  try {
    const body = (await r.json()) as { message?: string };
    if (body.message) message = body.message;
  } catch {
    // not JSON
  }
  throw new ApiError(r.status, message);
}

/** A read of the node's API through the dashboard server (`/info`, `/services?status=true`, …). */
export async function node<T>(path: string): Promise<T> {
  const r = await check(await fetch(`/api/node${path}`, { credentials: 'same-origin' }));
  return (await r.json()) as T;
}

/** A read of the dashboard server's own API (`/rollouts`). */
export async function own<T>(path: string): Promise<T> {
  const r = await check(await fetch(`/api${path}`, { credentials: 'same-origin' }));
  return (await r.json()) as T;
}

export async function action(path: string, body: unknown): Promise<void> {
  await check(
    await fetch(`/api${path}`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }),
  );
}
