import type { Caller } from '../identity/caller.js';
import type { HeldFile } from '../upload/held-file.js';
import type { AuditEntry, AuditFile } from './audit-trail.js';

/** A file as far as the clone got with it: held, then (maybe) identified, then (maybe) measured. */
export type AuditableFile = HeldFile & { contentType?: string; seconds?: number };

/** What a clone request has told so far, step by step (nothing, until its upload is read). */
export interface CloneFacts {
  name?: string;
  consent?: boolean;
  files?: readonly AuditableFile[];
}

/** How a clone ended, as it was answered. */
export interface CloneOutcome {
  status: number;
  code: string | null;
  voiceId: string | null;
  upstreamRequestId: string | null;
  attempts: number;
  replayed?: boolean;
}

/** A file's audit record: its name, size, digest, type and length; never its bytes. */
function auditFile(f: AuditableFile): AuditFile {
  return {
    filename: f.filename,
    bytes: f.size,
    sha256: f.sha256,
    content_type: f.contentType ?? null,
    seconds: typeof f.seconds === 'number' ? f.seconds : null,
  };
}

/** The audit entry for a clone: about to go upstream (no outcome), or how it ended. */
export function cloneEntry(
  requestId: string,
  caller: Caller,
  facts: CloneFacts,
  outcome?: CloneOutcome,
): AuditEntry {
  return {
    event: outcome ? 'clone_outcome' : 'clone_requested',
    request_id: requestId,
    caller: { kind: caller.kind, id: caller.id, person: caller.person ?? null },
    voice_name: facts.name ?? null,
    files: facts.files ? facts.files.map(auditFile) : null,
    consent: facts.consent ?? null,
    status: outcome?.status ?? null,
    code: outcome?.code ?? null,
    voice_id: outcome?.voiceId ?? null,
    upstream_request_id: outcome?.upstreamRequestId ?? null,
    attempts: outcome?.attempts ?? null,
    ...(outcome?.replayed ? { replayed: true } : {}),
  };
}
