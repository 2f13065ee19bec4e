import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { closeDestination, createLogger, stdoutDestination } from '../logger.js';
import { createRedactor } from '../redact.js';
import { createSandboxApp } from './sandbox-app.js';

/** `npm run sandbox`: the fake Truedy on its own (SANDBOX_HOST, SANDBOX_PORT, SANDBOX_API_KEY). */
// `VAR=` means "not set", as for the service's own variables.
const env = (name: string) => process.env[name]?.trim() || undefined;
const host = env('SANDBOX_HOST') ?? '127.0.0.1';
const portText = env('SANDBOX_PORT') ?? '4010';
const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
if (!(port >= 0 && port <= 65535)) {
  process.stderr.write(
    `truedy sandbox: SANDBOX_PORT must be a port number (0-65535), got ${JSON.stringify(portText)}\n`,
  );
  process.exit(1);
}
const level = env('LOG_LEVEL') ?? 'info';
// pino's own levels, and `silent`: the list the service's LOG_LEVEL schema states too.
const LOG_LEVELS = [...Object.keys(pino.levels.values), 'silent'];
if (!LOG_LEVELS.includes(level)) {
  process.stderr.write(
    `truedy sandbox: LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}\n`,
  );
  process.exit(1);
}
const apiKey = env('SANDBOX_API_KEY') ?? 'sandbox-key';
const destination = stdoutDestination(64 * 1024);
const logger = createLogger({ level, redactor: createRedactor([apiKey]), destination });

// How long a stop waits for calls in flight before it closes their connections: a test suite
// pointed at the sandbox should not hold a Ctrl-C up for long.
const STOP_GRACE_MS = 2000;

const server = createServer(createSandboxApp({ apiKey, log: logger }));
let exiting = false;
/** Ends the process once, with what the log still holds written out. */
const exit = (code: number) => {
  if (exiting) return;
  exiting = true;
  void closeDestination(destination, 1000).then(() => process.exit(code));
};
server.on('error', (error: NodeJS.ErrnoException) => {
  // EADDRINUSE, EACCES: one line naming the cause, not a stack trace.
  logger.error(
    { err: { code: error.code, message: error.message } },
    `Truedy sandbox could not listen on ${host}:${port}`,
  );
  exit(1);
});
server.listen(port, host, () => {
  const { port: bound } = server.address() as AddressInfo;
  const url = `http://${host}:${bound}`;
  logger.warn(
    { url },
    `Truedy sandbox (a fake Truedy, no real voices) listening on ${url}; point the service at it with TRUEDY_BASE_URL=${url} and TRUEDY_API_KEY=<its SANDBOX_API_KEY>`,
  );
});

// A second signal (Ctrl-C pressed again) does not wait out the grace: the calls still open are
// closed at once. Node's default for a repeated signal would kill the process unlogged.
let stopping = false;
const stop = (signal: NodeJS.Signals) => {
  if (stopping) {
    server.closeAllConnections();
    return;
  }
  stopping = true;
  logger.info({ signal }, 'Truedy sandbox stopping');
  if (!server.listening) return exit(0);
  const force = setTimeout(() => server.closeAllConnections(), STOP_GRACE_MS);
  server.close(() => {
    clearTimeout(force);
    logger.info('Truedy sandbox stopped');
    exit(0);
  });
  server.closeIdleConnections();
};
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, stop);
