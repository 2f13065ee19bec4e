import { z } from 'zod';
import { ANSWERED_CODES } from '../errors.js';
import { VoiceSchema } from '../normalize/voice.js';

/**
 * The shapes this service answers, as zod schemas: the TypeScript types below, the OpenAPI
 * document (`http/openapi.ts`, through `z.toJSONSchema`) and the form's script all derive from them.
 */

/** One file's audio facts, as the clone answer reports them (SPEC "POST /api/voices/clone"). */
export const AudioFileFactsSchema = z.strictObject({
  filename: z.string(),
  content_type: z.string(),
  bytes: z.number().int(),
  seconds: z.number(),
});

/** `meta.audio` of a clone answer: the total and each file's length. */
export const AudioMetaSchema = z.strictObject({ seconds: z.number(), files: z.array(AudioFileFactsSchema) });

const VoiceMetaSchema = z.strictObject({
  request_id: z.string(),
  upstream_request_id: z.string().nullable(),
  ts: z.string(),
});

/** A voice in SPEC's success envelope, as `GET /api/voices/:id` answers it. */
export const VoiceEnvelopeSchema = z.strictObject({ data: VoiceSchema, meta: VoiceMetaSchema });

/** The clone's 201: the voice, and the audio facts read before it was sent. */
export const CloneEnvelopeSchema = z.strictObject({
  data: VoiceSchema,
  meta: VoiceMetaSchema.extend({ audio: AudioMetaSchema }),
});

/** SPEC's error envelope, from every route. */
export const ErrorEnvelopeSchema = z.strictObject({
  error: z.strictObject({
    code: z.string().meta({
      description:
        "One of the service's codes, or (400, 402) the code Truedy itself answered with, kept when it is a plain identifier.",
      examples: [...ANSWERED_CODES],
    }),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
  }),
  meta: z.strictObject({ request_id: z.string(), ts: z.string() }),
});

/** `GET /readyz`. */
export const ReadinessSchema = z.strictObject({
  status: z.enum(['ready', 'draining', 'unavailable']),
  upstream: z.enum(['truedy', 'sandbox']),
  redis: z.enum(['ok', 'disabled', 'unavailable']),
  auth: z.enum(['ok', 'disabled', 'unavailable']).meta({
    description:
      'JWT bearer tokens (AUTH_JWKS_URL): `ok` once the provider keys are loaded, `unavailable` (503) while they never have been.',
  }),
});

export type VoiceEnvelope = z.infer<typeof VoiceEnvelopeSchema>;
export type CloneEnvelope = z.infer<typeof CloneEnvelopeSchema>;
export type ErrorEnvelope = z.infer<typeof ErrorEnvelopeSchema>;
export type Readiness = z.infer<typeof ReadinessSchema>;
export type AudioMeta = z.infer<typeof AudioMetaSchema>;

/** The named schemas of the OpenAPI document's `components`. */
export const COMPONENTS = {
  Voice: VoiceSchema,
  VoiceEnvelope: VoiceEnvelopeSchema,
  CloneEnvelope: CloneEnvelopeSchema,
  ErrorEnvelope: ErrorEnvelopeSchema,
  Readiness: ReadinessSchema,
} as const;
