import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, loadConfig } from './config/config.js';
import { startTracing } from './tracing/tracing.js';

// Only the configuration and the tracing starter are imported up front: the SDK is started (when an
// OTLP endpoint is set) before the rest of the service is loaded, so it sees every module load,
// and without one the SDK is never imported at all (SPEC "Operations": no tracing cost).

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
  const tracing = config.tracing ? await startTracing(config.tracing) : undefined;
  const [
    { createLogger, stdoutDestination, closeDestination },
    { createSandboxApp },
    { createService, serviceRedactor },
    { traceRequests },
    { createHttpServer },
  ] = await Promise.all([
    import('./logger.js'),
    import('./sandbox/sandbox-app.js'),
    import('./service.js'),
    import('./tracing/server-span.js'),
    import('./http/server.js'),
  ]);
  // No key outside production: the embedded fake Truedy gets a random one of its own.
  const apiKey = config.truedyApiKey ?? `sandbox_${randomBytes(16).toString('hex')}`;
  const destination = stdoutDestination(config.logBufferBytes);
  const logger = createLogger({
    level: config.logLevel,
    redactor: serviceRedactor(config, apiKey),
    destination,
  });
  tracing?.logTo(logger);

  // No key outside production: run against the embedded fake Truedy, and say so loudly (SPEC "Running it").
  let sandbox: Server | undefined;
  let baseUrl = config.truedyBaseUrl;
  if (!config.truedyApiKey) {
    sandbox = createServer(createSandboxApp({ apiKey, log: logger.child({ component: 'sandbox' }) }));
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
    // What createService touches at start-up (UPLOAD_DIR, the Redis TLS files) names its variable:
    // a folder or file that cannot be used stops start-up, rather than fail every request.
    process.stderr.write(`truedy-voice-bff: configuration error: ${(error as Error).message}\n`);
    process.exit(1);
  }
  // A log reader that stalls costs lines, not memory: each one dropped is counted on /metrics.
  destination.on('drop', () => service.metrics.logLinesDropped.inc());
  // Whatever ends the process short of SIGKILL, its spooled voices go with it (SPEC "Privacy of uploads").
  process.once('exit', () => service.spoolFolder.close());
  // An AUDIT_LOG that cannot be opened is found now, not at the first clone.
  try {
    await service.audit.open();
  } catch (error) {
    process.stderr.write(`truedy-voice-bff: configuration error: AUDIT_LOG: ${(error as Error).message}\n`);
    process.exit(1);
  }
  // logrotate renames the file and sends SIGHUP: later entries go to a new file at AUDIT_LOG.
  process.on('SIGHUP', () => {
    service.audit.reopen().then(
      () => {
        if (config.auditLog) logger.info({ path: config.auditLog }, 'audit log reopened');
      },
      (error: NodeJS.ErrnoException) =>
        logger.error(
          { err: { code: error.code, message: error.message } },
          'audit log could not be reopened: clones are refused (503) until it can be written',
        ),
    );
  });
  if (config.redis && !(await service.ready(5000))) {
    logger.error('Redis is not reachable yet: /readyz says 503 and clone requests are refused until it is');
  }
  // connectionsCheckingInterval: how often Node enforces headersTimeout/requestTimeout (default 30 s).
  // The app, not Node, answers `Expect: 100-continue` (SPEC "POST /api/voices/clone").
  const server = createHttpServer(traceRequests(service.app), {
    connectionsCheckingInterval: Math.min(1000, config.headersTimeoutMs),
  });
  server.headersTimeout = config.headersTimeoutMs;
  server.requestTimeout = config.requestTimeoutMs;
  const address = await listen(server, config.port, config.host);
  logger.info(
    { url: `http://${address.address}:${address.port}`, tracing: tracing ? 'otlp' : 'off' },
    'truedy-voice-bff listening',
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const deadline = Date.now() + config.shutdownTimeoutMs;
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
    // A clone whose client left once Truedy had it runs to its answer (audited, kept for its key).
    const working = service.lifecycle.work.size;
    if (working > 0) logger.info({ requests: working }, 'draining: waiting for requests with no client left');
    if (!(await service.workSettled(deadline - Date.now())))
      logger.warn('drain timeout: stopping with requests still waiting for Truedy');
    await service.close();
    sandbox?.close();
    sandbox?.closeAllConnections();
    // What is left of the drain timeout, at least a second: a drain that used it all still gets its
    // last spans and log lines out.
    const lastWords = () => Math.max(1000, deadline - Date.now());
    // Spans still queued in the batch go out before the exit.
    await tracing?.shutdown(lastWords());
    logger.info('stopped');
    // The last lines go out (or are given up on) before the exit, which cannot wait for them.
    await closeDestination(destination, lastWords());
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

await main();
