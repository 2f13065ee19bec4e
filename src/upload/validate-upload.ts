import { ServiceError } from '../errors.js';
import type { HeldFile } from './held-file.js';
import type { ReceivedUpload } from './read-upload.js';

/** The longest voice name, in Unicode characters (SPEC; Truedy's own limit). */
export const NAME_MAX_CHARS = 100;

/**
 * Values of the `consent` field that mean yes (SPEC: `true`, also `on`, `yes`, `1`), and those that
 * mean no, compared case-insensitively; an empty field means no too.
 */
export const CONSENT_VALUES = { yes: ['true', 'on', 'yes', '1'], no: ['false', 'off', 'no', '0'] } as const;
const CONSENT_YES = new Set<string>(CONSENT_VALUES.yes);
const CONSENT_NO = new Set<string>(['', ...CONSENT_VALUES.no]);

/** A clone request whose fields are valid: the trimmed name, the consent given, the files in order. */
export interface CloneRequest {
  name: string;
  consent: boolean;
  files: HeldFile[];
}

/** Reads one text field that may appear at most once. */
function single(fields: Record<string, unknown>, field: string): string | undefined {
  const raw = fields[field];
  if (Array.isArray(raw)) throw new ServiceError('invalid_request', `Send "${field}" once.`, { field });
  return typeof raw === 'string' ? raw : undefined;
}

/** Pipeline step: checks the name, the files and the consent field (SPEC "POST /api/voices/clone"). */
export function validateUpload(upload: ReceivedUpload): CloneRequest {
  const name = (single(upload.fields, 'name') ?? '').trim();
  if (!name) throw new ServiceError('invalid_request', 'A voice name is required.', { field: 'name' });
  if ([...name].length > NAME_MAX_CHARS) {
    throw new ServiceError('invalid_request', `The name may be at most ${NAME_MAX_CHARS} characters.`, {
      field: 'name',
    });
  }
  const consentValue = single(upload.fields, 'consent')?.trim().toLowerCase();
  if (consentValue !== undefined && !CONSENT_YES.has(consentValue) && !CONSENT_NO.has(consentValue)) {
    throw new ServiceError('invalid_request', 'consent must be true or false (also on/off, yes/no, 1/0).', {
      field: 'consent',
    });
  }
  if (upload.files.length === 0) {
    throw new ServiceError('invalid_request', 'Attach at least one audio file as "files".');
  }
  const empty = upload.files.find((f) => f.size === 0);
  if (empty) {
    throw new ServiceError('invalid_request', `The file "${empty.filename}" is empty.`, {
      filename: empty.filename,
    });
  }
  return { name, consent: consentValue !== undefined && CONSENT_YES.has(consentValue), files: upload.files };
}
