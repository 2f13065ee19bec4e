/** One file part of an upload as the service holds it while its request lives. */
export interface HeldFile {
  /** The part's filename exactly as the user typed it (UTF-8, backslashes and all). */
  filename: string;
  size: number;
  /** The first bytes (up to SNIFF_BYTES), kept while receiving so identifying needs no second read. */
  head: Buffer;
  /** SHA-256 of the bytes, hex: the idempotency fingerprint and the audit trail use it. */
  sha256: string;
  /** Where the bytes are: held in memory, or spooled to a private file. */
  source: HeldSource;
}

/** Where a held file's bytes are. */
export type HeldSource = { bytes: Buffer } | { path: string };

/** How many leading bytes are kept for identifying a file (file-type's own "reasonable" sample). */
export const SNIFF_BYTES = 4100;
