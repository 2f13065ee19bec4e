// Messages between the fuzz harness and its worker thread.

/** What one read answered. */
export type Outcome =
  | { kind: 'ok'; seconds: number; ms: number }
  | { kind: 'invalid'; reason: string; ms: number }
  | { kind: 'abort'; ms: number }
  | { kind: 'error'; name: string; message: string; site: string; ms: number };

/** One input for the worker: read it held in memory, and spooled to a file when `spool`. */
export interface WorkerRequest {
  id: number;
  type: string;
  bytes: Uint8Array;
  spool: boolean;
}

/** The worker's answer. */
export interface WorkerReply {
  id: number;
  bytes: Outcome;
  path: Outcome | null;
  /** The longest the event loop waited during the in-memory read (ms, 5 ms resolution). */
  blockMs: number;
  /** When the refusal was a RangeError turned "corrupt: ...": where it was thrown. */
  rangeError?: { site: string; message: string; code: string } | undefined;
}
