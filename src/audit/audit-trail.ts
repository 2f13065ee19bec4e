import { open } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { ServiceError } from '../errors.js';
import type { CallerKind } from '../identity/caller.js';

/** One file of a clone as the audit trail records it: what it was, never what it held. */
export interface AuditFile {
  filename: string;
  bytes: number;
  sha256: string;
  /** The type read from its bytes; null when the clone was refused before it was read. */
  content_type: string | null;
  /** Its length from the audio-facts step; null when not known. */
  seconds: number | null;
}

/** One line of the audit trail (SPEC "Identity, consent and audit"); null where not known yet. */
export interface AuditEntry {
  /** `clone_requested`: about to be sent to Truedy. `clone_outcome`: how it ended (also for refusals). */
  event: 'clone_requested' | 'clone_outcome';
  request_id: string;
  caller: { kind: CallerKind; id: string; person: string | null };
  voice_name: string | null;
  files: AuditFile[] | null;
  consent: boolean | null;
  status: number | null;
  code: string | null;
  voice_id: string | null;
  upstream_request_id: string | null;
  attempts: number | null;
  /** The answer was an idempotent replay: nothing was sent to Truedy for this request. */
  replayed?: boolean;
}

/** Where audit entries go: a file flushed to disk, or the log. */
export interface AuditTrail {
  /** Appends one entry, stamped with the time; resolves once it is durable. Throws 503 audit_unavailable. */
  write(entry: AuditEntry): Promise<void>;
  /** Opens the file now (start-up), so an unusable AUDIT_LOG is found before the first clone. */
  open(): Promise<void>;
  /** Closes and opens the file again (logrotate's SIGHUP): later entries go to the new file. */
  reopen(): Promise<void>;
  close(): Promise<void>;
}

/** The part of a `FileHandle` the trail uses; tests inject one that fails like a full disk. */
export type AuditHandle = {
  appendFile(data: string): Promise<void>;
  datasync(): Promise<void>;
  close(): Promise<void>;
};

/** Opens the audit file for appending. */
export type OpenAuditFile = (path: string) => Promise<AuditHandle>;

// The trail names people and what they cloned: readable by the service's user only.
const openForAppend: OpenAuditFile = (path) => open(path, 'a', 0o600);

/** How long a client should wait after the trail could not be written. */
const AUDIT_RETRY_AFTER_MS = 30_000;

function unavailable(cause: unknown): ServiceError {
  return Object.assign(
    new ServiceError('audit_unavailable', undefined, undefined, { retryAfterMs: AUDIT_RETRY_AFTER_MS }),
    { cause },
  );
}

/**
 * AUDIT_LOG: one JSON line per entry, appended and fdatasync'd before `write` resolves (SPEC:
 * flushed to disk before Truedy is called and before the answer goes out). The file is opened once
 * and reopened on request; when an open fails, the next write tries again, so the trail mends itself
 * once the path is usable. Writes run one at a time, so lines never interleave.
 */
export function createFileAuditTrail(
  path: string,
  clock: Clock,
  openFile: OpenAuditFile = openForAppend,
): AuditTrail {
  let handle: AuditHandle | undefined;
  // A write that failed part way may have left a piece of a line: the next one starts on a fresh line.
  let torn = false;
  let tail: Promise<unknown> = Promise.resolve();
  const serial = <T>(op: () => Promise<T>): Promise<T> => {
    const run = tail.then(op, op);
    tail = run.catch(() => undefined);
    return run;
  };
  const ensureOpen = async () => {
    handle ??= await openFile(path);
    return handle;
  };
  const closeHandle = async () => {
    const old = handle;
    handle = undefined;
    await old?.close().catch(() => undefined);
  };

  return {
    write: (entry) =>
      serial(async () => {
        const line = `${torn ? '\n' : ''}${JSON.stringify({ time: new Date(clock.now()).toISOString(), ...entry })}\n`;
        try {
          const h = await ensureOpen();
          torn = true;
          await h.appendFile(line);
          await h.datasync();
          torn = false;
        } catch (e) {
          // Whatever broke (a full disk, an I/O error), the next write starts from a fresh open.
          await closeHandle();
          throw unavailable(e);
        }
      }),
    open: () =>
      serial(async () => {
        await ensureOpen();
      }),
    reopen: () =>
      serial(async () => {
        await closeHandle();
        await ensureOpen();
      }),
    close: () => serial(closeHandle),
  };
}

/** AUDIT_LOG unset: the same entries go to the normal log, marked `"audit": true`. */
export function createLogAuditTrail(logger: Logger): AuditTrail {
  return {
    write: async (entry) => {
      try {
        // pino stamps the line's `time` itself.
        logger.info({ audit: true, ...entry }, 'audit');
      } catch (e) {
        throw unavailable(e);
      }
    },
    open: async () => undefined,
    reopen: async () => undefined,
    close: async () => undefined,
  };
}
