// The audit trail as a test reads it back: a fresh path for AUDIT_LOG, and its lines parsed.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { AuditEntry } from '../../src/audit/audit-trail.js';
import { tempDir } from './fixtures.js';

/** One line of the audit file: an entry as the trail stamped it. */
export type AuditLine = AuditEntry & { time: string };

/** A path for AUDIT_LOG in a fresh folder of its own (the file is not there yet). */
export function auditFilePath(): string {
  return path.join(tempDir(), 'audit.log');
}

/** The audit file's lines, parsed, in order (none when the file does not exist). */
export function readAuditFile(file: string): AuditLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditLine);
}
