import { type DestinationStream, type Logger, pino } from 'pino';
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

/** A JSON logger at `level`; tests pass their own destination to read what was logged. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'truedy-voice-bff' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // trace_id and span_id of the active span, so a log line leads to its trace (SPEC "Operations").
      mixin: logTraceFields,
    },
    destination,
  );
}
