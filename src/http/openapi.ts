import { z } from 'zod';
import { COMPONENTS } from '../api/schemas.js';
import { CONSENT_VALUES, NAME_MAX_CHARS } from '../upload/validate-upload.js';

const json = (schema: object) => ({ 'application/json': { schema } });
const ref = (name: keyof typeof COMPONENTS) => ({ $ref: `#/components/schemas/${name}` });
const errorResponse = (description: string) => ({ description, content: json(ref('ErrorEnvelope')) });

/** The components, from the zod schemas: each a plain JSON Schema, cross-referenced by `$ref`. */
function components(): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(COMPONENTS)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { uri: (id) => `#/components/schemas/${id}` });
  // Each component is embedded in this document: its own `$schema`/`$id` would move the base of its refs.
  return Object.fromEntries(
    Object.entries(schemas).map(([id, { $schema: _s, $id: _i, ...schema }]) => [id, schema]),
  );
}

/** This service's own API description (`GET /openapi.json`); the suite validates real answers against it. */
export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'truedy-voice-bff',
    version: '0.2.0',
    description:
      "Backend-for-frontend in front of Truedy's POST /voices/clone: multipart in, one normalized voice out.",
  },
  paths: {
    '/api/voices/clone': {
      post: {
        summary: 'Clone a voice from uploaded audio files',
        parameters: [
          { name: 'Idempotency-Key', in: 'header', schema: { type: 'string', minLength: 1, maxLength: 255 } },
          { name: 'X-Request-Id', in: 'header', schema: { type: 'string', maxLength: 128 } },
          { name: 'traceparent', in: 'header', schema: { type: 'string' } },
        ],
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['name', 'files'],
                properties: {
                  name: { type: 'string', minLength: 1, maxLength: NAME_MAX_CHARS },
                  files: { type: 'array', minItems: 1, items: { type: 'string', format: 'binary' } },
                  consent: {
                    type: 'string',
                    description: 'Compared case-insensitively; the first four confirm consent.',
                    enum: [...CONSENT_VALUES.yes, ...CONSENT_VALUES.no],
                  },
                },
              },
            },
          },
        },
        responses: {
          '201': { description: 'The voice Truedy created', content: json(ref('CloneEnvelope')) },
          '400': errorResponse('Invalid request or audio, consent missing, or Truedy refused the payload'),
          '401': errorResponse('Missing or invalid credential'),
          '402': errorResponse('Not enough Truedy credits'),
          '403': errorResponse('Origin not allowed'),
          '409': errorResponse('Same Idempotency-Key still in flight'),
          '413': errorResponse('Upload over a size limit'),
          '415': errorResponse('Not multipart, or a file that is not audio'),
          '422': errorResponse(
            'Idempotency-Key reused, audio too short or long, or Truedy validation failed',
          ),
          '429': errorResponse('Rate limited (this service or Truedy)'),
          '500': errorResponse('A bug; details only in the log'),
          '502': errorResponse('Truedy failed'),
          '503': errorResponse(
            'Shutting down, or the shared store, spool, audit trail or identity provider is unavailable',
          ),
          '504': errorResponse('Truedy timed out'),
        },
      },
    },
    '/api/voices/{id}': {
      get: {
        summary: 'One voice, normalized',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', maxLength: 200 } }],
        responses: {
          '200': { description: 'The voice', content: json(ref('VoiceEnvelope')) },
          '400': errorResponse('Invalid id, or Truedy refused the request'),
          '401': errorResponse('Missing or invalid credential'),
          '402': errorResponse('Truedy refused the request for lack of credits'),
          '403': errorResponse('Origin not allowed'),
          '404': errorResponse('No such voice'),
          '422': errorResponse('Truedy could not validate the request'),
          '429': errorResponse('Rate limited (this service or Truedy)'),
          '500': errorResponse('A bug; details only in the log'),
          '502': errorResponse('Truedy failed'),
          '503': errorResponse('Shutting down, or a dependency is unavailable'),
          '504': errorResponse('Truedy timed out'),
        },
      },
    },
    '/healthz': {
      get: {
        responses: {
          '200': {
            description: 'The process runs',
            content: json({
              type: 'object',
              additionalProperties: false,
              required: ['status'],
              properties: { status: { const: 'ok' } },
            }),
          },
        },
      },
    },
    '/readyz': {
      get: {
        responses: {
          '200': { description: 'Ready', content: json(ref('Readiness')) },
          '503': {
            description: 'Draining, Redis unreachable, or the JWT keys (AUTH_JWKS_URL) never loaded',
            content: json(ref('Readiness')),
          },
        },
      },
    },
    '/metrics': { get: { responses: { '200': { description: 'Prometheus text exposition' } } } },
  },
  components: { schemas: components() },
} as const;
