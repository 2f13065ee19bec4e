import { type DestinationStream, type Logger, pino } from 'pino';
import type { Redactor } from './redact.js';
import { logTraceFields } from './tracing/spans.js';

/** Paths pino blanks in every log line: the key and any credential header never reach a log (SPEC "Operations"). */
export const REDACT_PATHS = [
  'apiKey',
  'config.truedyApiKey',
  'config.auth.clientTokens',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  '*.authorization',
];

/** How a logger is built: its level, where lines go (tests keep them), and what must never appear. */
export interface LoggerOptions {
  level: string;
  destination?: DestinationStream;
  /** Applied to every finished line, so a secret cannot reach the log by any field or message. */
  redactor?: Redactor;
}

/** Where the service's own log goes: stdout, through pino's own default destination (asynchronous). */
export type LogDestination = ReturnType<typeof pino.destination>;

/**
 * stdout as pino's destination, made here so the exit can close it (see closeDestination). Lines
 * the reader has not taken yet are held up to `maxBytes` (LOG_BUFFER_BYTES); past that, new lines
 * are dropped (sonic-boom's 'drop' event) rather than held without bound: a log reader that stalls
 * (a log shipper that stopped reading) would otherwise grow the process until it ran out of memory.
 */
export function stdoutDestination(maxBytes: number, fd = 1): LogDestination {
  const destination = pino.destination({ dest: fd, maxLength: maxBytes });
  // pino answers EPIPE by making the destination's methods no-ops, end() included: closeDestination
  // must know, or it would wait for a close that never comes. Any other failure is thrown on, so it
  // still ends the process as the unhandled 'error' it was (pino re-emits it for that).
  destination.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    readerGone.add(destination);
  });
  return destination;
}

/** Destinations whose reader has gone (EPIPE): pino writes nothing more to them. */
const readerGone = new WeakSet<LogDestination>();

/**
 * Writes out the lines still queued and closes the destination, or gives up on them after `ms`.
 * pino's own exit hook flushes synchronously, and sonic-boom 4's flushSync retries a failed write
 * forever: a service whose log reader had gone (a log shipper that died) hung on its last line
 * after a drain, until SIGKILL. Once the destination is closed, that hook has nothing to do; a
 * reader that is gone ends it at once (EPIPE), one that is stuck at `ms`.
 */
export function closeDestination(destination: LogDestination, ms: number): Promise<void> {
  if (readerGone.has(destination)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      destination.destroy();
      done();
    }, ms);
    destination.once('close', done);
    destination.once('error', done);
    destination.end();
  });
}

/** A JSON logger (pino). */
export function createLogger(options: LoggerOptions): Logger {
  const { redactor } = options;
  return pino(
    {
      level: options.level,
      base: { service: 'truedy-voice-bff' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      ...(redactor ? { hooks: { streamWrite: (line: string) => redactor.text(line) } } : {}),
      // trace_id and span_id of the active span, so a log line leads to its trace (SPEC "Operations").
      mixin: logTraceFields,
    },
    options.destination,
  );
}
