import { z } from 'zod';
import { isRecord } from '../values.js';

const nullableString = z.string().nullable();

/**
 * The one voice shape this service answers (SPEC "The normalized Voice"): the TypeScript type,
 * the OpenAPI document and the form's script all derive from this schema.
 */
export const VoiceSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  provider: nullableString,
  type: z.enum(['custom', 'reference']),
  language: nullableString,
  status: z.enum(['training', 'active', 'failed']),
  created_at: z.string(),
  updated_at: z.string(),
  gender: nullableString,
  accent: nullableString,
  preview_url: nullableString,
});

/** A normalized voice. */
export type Voice = z.infer<typeof VoiceSchema>;

/** SPEC's status table. A Map: a plain object would also answer `constructor` or `__proto__`. */
const STATUS = new Map<string, Voice['status']>(
  Object.entries({
    training: 'training',
    processing: 'training',
    pending: 'training',
    queued: 'training',
    in_progress: 'training',
    active: 'active',
    ready: 'active',
    completed: 'active',
    succeeded: 'active',
    failed: 'failed',
    error: 'failed',
  }),
);

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** Result of normalizing: the voice, or null when upstream gave no id (SPEC: 502 upstream_invalid_response). */
export interface NormalizeResult {
  voice: Voice | null;
  /** Set when upstream sent a status outside SPEC's table, so the caller can log it. */
  unknownStatus?: unknown;
}

/**
 * Maps whatever voice object Truedy sent to SPEC's Voice. Pure: `receivedAt` stands in for
 * missing timestamps, `fallbackName` for a missing name.
 */
export function normalizeVoice(raw: unknown, fallbackName: string, receivedAt: Date): NormalizeResult {
  if (!isRecord(raw)) return { voice: null };
  const v = raw;
  const id = typeof v.id === 'string' && v.id !== '' ? v.id : typeof v.id === 'number' ? String(v.id) : null;
  if (id === null) return { voice: null };

  const type: Voice['type'] =
    v.type === 'custom' || v.type === 'reference'
      ? v.type
      : typeof v.is_custom === 'boolean'
        ? v.is_custom
          ? 'custom'
          : 'reference'
        : 'custom';
  const rawStatus = typeof v.status === 'string' ? v.status.toLowerCase() : undefined;
  const status = rawStatus === undefined ? undefined : STATUS.get(rawStatus);
  const created = isoOrNull(v.created_at) ?? receivedAt.toISOString();
  const voice: Voice = {
    id,
    name: str(v.name) ?? fallbackName,
    provider: str(v.provider),
    type,
    language: str(v.language),
    status: status ?? 'training',
    created_at: created,
    updated_at: isoOrNull(v.updated_at) ?? created,
    gender: str(v.gender),
    accent: str(v.accent),
    preview_url: str(v.preview_url),
  };
  return status === undefined ? { voice, unknownStatus: v.status } : { voice };
}

/** Keeps upstream's timestamp text when it is a parseable date (SPEC keeps "upstream value"). */
function isoOrNull(v: unknown): string | null {
  if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) return null;
  return v;
}
