import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig } from './config/config.js';
import { createHttpServer } from './http/server.js';
import { createLogger } from './logger.js';
import { createSandboxApp } from './sandbox/sandbox-app.js';
import { createService, serviceRedactor } from './service.js';

/** Listens and resolves once the server is bound. */
function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server.address() as AddressInfo));
  });
}

async function main() {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`truedy-voice-bff: configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  // No key outside production: the embedded fake Truedy gets a random one of its own.
  const apiKey = config.truedyApiKey ?? `sandbox_${randomBytes(16).toString('hex')}`;
  const logger = createLogger({ level: config.logLevel, redactor: serviceRedactor(config, apiKey) });

  // No key outside production: run against the embedded fake Truedy, and say so loudly (SPEC "Running it").
  let sandbox: Server | undefined;
  let baseUrl = config.truedyBaseUrl;
  if (!config.truedyApiKey) {
    sandbox = createServer(createSandboxApp({ apiKey }));
    const { port } = await listen(sandbox, 0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${port}`;
    logger.warn(
      { upstream: baseUrl },
      'SANDBOX MODE: TRUEDY_API_KEY is not set, so the service runs against the built-in sandbox (a fake Truedy). No real voices are cloned.',
    );
  }

  let service: ReturnType<typeof createService>;
  try {
    service = createService(config, {
      logger,
      apiKey,
      baseUrl,
      upstreamName: sandbox ? 'sandbox' : 'truedy',
    });
  } catch (error) {
    // The one start-up step that touches the disk: uploads are spooled in UPLOAD_DIR, so a folder
    // that cannot be used is a start-up error, not a 500 per upload.
    process.stderr.write(`truedy-voice-bff: configuration error: UPLOAD_DIR: ${(error as Error).message}\n`);
    process.exit(1);
  }
  // Whatever ends the process short of SIGKILL, its spooled voices go with it (SPEC "Privacy of uploads").
  process.once('exit', () => service.spoolFolder.close());
  if (config.redis && !(await service.ready(5000))) {
    logger.error('Redis is not reachable yet: /readyz says 503 and clone requests are refused until it is');
  }
  // connectionsCheckingInterval: how often Node enforces headersTimeout/requestTimeout (default 30 s).
  // The app, not Node, answers `Expect: 100-continue` (SPEC "POST /api/voices/clone").
  const server = createHttpServer(service.app, {
    connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
  });
  server.headersTimeout = config.headersTimeoutMs;
  server.requestTimeout = config.requestTimeoutMs;
  const address = await listen(server, config.port, config.host);
  logger.info({ url: `http://${address.address}:${address.port}` }, 'truedy-voice-bff listening');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // SPEC "Operations": readyz 503 at once, stop taking connections, let in-flight requests finish.
    service.lifecycle.draining = true;
    logger.info({ signal, timeout_ms: config.shutdownTimeoutMs }, 'draining');
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive connections that turn idle after their last answer are closed as they do.
    const reaper = setInterval(() => server.closeIdleConnections(), 100);
    server.closeIdleConnections();
    const timer = setTimeout(() => {
      logger.warn('drain timeout: closing remaining connections');
      server.closeAllConnections();
    }, config.shutdownTimeoutMs);
    await closed;
    clearTimeout(timer);
    clearInterval(reaper);
    await service.close();
    sandbox?.close();
    sandbox?.closeAllConnections();
    logger.info('stopped');
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

await main();
