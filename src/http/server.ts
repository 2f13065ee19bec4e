import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerOptions,
} from 'node:http';

/** Requests whose client waits for `100 Continue` before it sends the body, and got none yet. */
const waiting = new WeakSet<IncomingMessage>();

/**
 * The service's HTTP server (main.ts listens with it; tests that need a real server do too).
 * Node answers `Expect: 100-continue` with `100 Continue` by itself unless `checkContinue` is
 * handled; here it is, so the app decides: its pre-body step sends 100 to an upload it will read,
 * and a request it refuses without the body gets its answer instead (SPEC "POST /api/voices/clone").
 */
export function createHttpServer(handler: RequestListener, options: ServerOptions = {}): Server {
  const server = createServer(options, handler);
  server.on('checkContinue', (req: IncomingMessage, res) => {
    waiting.add(req);
    handler(req, res);
  });
  return server;
}

/** True while the client waits for `100 Continue` and has been sent none: it has not sent its body. */
export function awaitsContinue(req: IncomingMessage): boolean {
  return waiting.has(req);
}

/** Tells a waiting client to send its body (RFC 9110 §10.1.1); nothing for any other request. */
export function sendContinue(req: IncomingMessage, res: { writeContinue(): void }): void {
  if (waiting.delete(req)) res.writeContinue();
}
