// Docker's hijacked connections (`POST /exec/{id}/start`, `POST /containers/{id}/attach`):
// the client asks with `Connection: Upgrade` / `Upgrade: tcp`, the answer is `101
// UPGRADED`, and from then on the socket carries the raw streams both ways, input from
// the client up to its half-close. Node's HTTP server would go on parsing the client's
// input as requests and end our side when the client half-closes; the socket is taken
// from it here. (Node emits 'upgrade' only to servers that listen for it, so these
// requests reach fastify as ordinary ones, with their JSON bodies parsed.)
import type { Socket } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';

/** The request's socket, no longer the HTTP server's, with the answer's head written, and the client's input. */
export function hijack(
  req: FastifyRequest,
  reply: FastifyReply,
  contentType: string,
): { socket: Socket; input: Readable } {
  const upgrade = /upgrade/i.test(String(req.headers.connection ?? ''));
  reply.hijack();
  const socket = req.raw.socket as Socket;
  // The server's parser reads the socket (in C++ when it can): detach it, as Node does
  // for an 'upgrade', so the bytes that follow are the client's input.
  const parser = (socket as Socket & { parser?: { unconsume?: () => void } }).parser;
  parser?.unconsume?.();
  for (const event of ['data', 'end'] as const)
    for (const l of socket.listeners(event)) {
      const name = (l as { name?: string }).name ?? '';
      if (name.endsWith('socketOnData') || name.endsWith('socketOnEnd')) socket.off(event, l as () => void);
    }
  // The client's input, held until the caller reads it (a pipe) or drops it (resume).
  // Read through a pipe at once: after the parser lets go, only a reader attached now
  // starts the socket reading again.
  const input = new PassThrough();
  // The client half-closes once its input is done and reads on: an HTTPS server's
  // sockets (unlike the unix socket's) would end our side with it, before the output.
  socket.allowHalfOpen = true;
  socket.pipe(input);
  socket.setTimeout(0);
  socket.write(
    upgrade
      ? `HTTP/1.1 101 UPGRADED\r\nContent-Type: ${contentType}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n`
      : `HTTP/1.1 200 OK\r\nContent-Type: ${contentType}\r\nConnection: close\r\n\r\n`,
  );
  return { socket, input };
}
