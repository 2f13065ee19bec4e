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
