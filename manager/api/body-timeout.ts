// How long a request's body may take to arrive on the TCP API. Chosen by route, not by
// content type: the docker CLI labels the tarballs of `docker import` and `docker cp`
// application/json (dockerd reads them as tarballs whatever their label).
import type { FastifyRequest } from 'fastify';
import type { Logger } from '../../lib/index.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route reads its body as a stream as it comes (see STREAMED_BODY). */
    streamedBody?: boolean;
  }
}

/**
 * Route option of the routes whose body is a stream read as it arrives (an image or
 * build-context tarball, a copy into a container, exec stdin, a hijacked connection's
 * input): such a body lasts as long as the upload or the command, so it is not bounded
 * as a whole; only a silence as long as the body timeout cuts it (slowloris).
 */
export const STREAMED_BODY = { config: { streamedBody: true } } as const;

/**
 * Bounds the arrival of `req`'s body: on a streamed route, the time between two reads
 * from the client; on any other, the whole body's time from its headers. Whatever cuts
 * it, only the body is bounded: an answer takes as long as it takes.
 */
export function boundBody(req: FastifyRequest, log: Logger, ms: number): void {
  if (req.raw.complete) return;
  if (req.routeOptions.config.streamedBody === true) boundSilence(req, log, ms);
  else boundArrival(req, log, ms);
}

/**
 * The streamed body of `req` has become a user's input (exec stdin): a silence is the
 * user's, not a client's stall, and no longer cuts the connection.
 */
export function unboundStreamedBody(req: FastifyRequest): void {
  req.raw.socket?.setTimeout(0);
}

/** Closes the connection unless the whole request has arrived within `ms` of now. */
export function boundArrival(req: FastifyRequest, log: Logger, ms: number): void {
  const raw = req.raw;
  const timer = setTimeout(() => {
    if (raw.complete) return;
    log.warn(
      { remote: req.ip, url: req.url, timeoutMs: ms },
      'closing a connection whose request did not arrive in time',
    );
    raw.socket.destroy();
  }, ms);
  timer.unref();
  const clear = () => clearTimeout(timer);
  raw.once('end', clear);
  raw.once('close', clear);
}

/**
 * The socket's idle timer (Node's HTTP server refreshes it on every read it parses, and
 * on writes): a body that sends nothing for `ms` is cut. Cleared once the body has
 * ended, as the server would otherwise end an idle answer (a build step that prints
 * nothing) with it.
 */
function boundSilence(req: FastifyRequest, log: Logger, ms: number): void {
  const raw = req.raw;
  const socket = raw.socket;
  // While the body is incomplete the server hands the socket's timeout to the request's
  // listeners (this one) instead of ending the connection itself.
  raw.on('timeout', () => {
    if (raw.complete) return;
    log.warn(
      { remote: req.ip, url: req.url, timeoutMs: ms },
      'closing a connection whose streamed body sent nothing in time',
    );
    socket.destroy();
  });
  socket.setTimeout(ms);
  const clear = () => socket.setTimeout(0);
  raw.once('end', clear);
  raw.once('close', clear);
}
