import type { AddressInfo } from 'node:net';
import { createLogger } from '../logger.js';
import { createRedactor } from '../redact.js';
import { createSandboxApp } from './sandbox-app.js';

/** `npm run sandbox`: the fake Truedy on its own (SANDBOX_HOST, SANDBOX_PORT, SANDBOX_API_KEY). */
const host = process.env.SANDBOX_HOST ?? '127.0.0.1';
const port = Number(process.env.SANDBOX_PORT ?? 4010);
const apiKey = process.env.SANDBOX_API_KEY ?? 'sandbox-key';
const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info', redactor: createRedactor([apiKey]) });

const server = createSandboxApp({ apiKey, log: logger }).listen(port, host, () => {
  const { port: bound } = server.address() as AddressInfo;
  const url = `http://${host}:${bound}`;
  logger.warn(
    { url },
    `Truedy sandbox (a fake Truedy, no real voices) listening on ${url}; point the service at it with TRUEDY_BASE_URL=${url} and TRUEDY_API_KEY=<its SANDBOX_API_KEY>`,
  );
});
for (const signal of ['SIGTERM', 'SIGINT'] as const)
  process.once(signal, () => server.close(() => process.exit(0)));
