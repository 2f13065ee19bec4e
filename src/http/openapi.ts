import { ERROR_TABLE } from './errors.js';

const nullableString = { type: ['string', 'null'] };
const json = (schema: object) => ({ 'application/json': { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errorResponse = (description: string) => ({ description, content: json(ref('ErrorEnvelope')) });
/** A closed object schema: exactly these properties, every one required except `optional`. */
const closedObject = (properties: Record<string, object>, optional: readonly string[] = []) => ({
  type: 'object',
  additionalProperties: false,
  required: Object.keys(properties).filter((k) => !optional.includes(k)),
  properties,
});

/** This service's own API description (`GET /openapi.json`); the suite validates real answers against it. */
export const OPENAPI = {
  openapi: '3.1.0',
  info: {
    title: 'truedy-voice-bff',
    version: '0.1.0',
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
        ],
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['name', 'files'],
                properties: {
                  name: { type: 'string', minLength: 1, maxLength: 100 },
                  files: { type: 'array', minItems: 1, items: { type: 'string', format: 'binary' } },
                },
              },
            },
          },
        },
        responses: {
          '201': { description: 'The voice Truedy created', content: json(ref('VoiceEnvelope')) },
          '400': errorResponse('Invalid request, or Truedy refused the payload'),
          '401': errorResponse('Missing or wrong bearer token'),
          '402': errorResponse('Not enough Truedy credits'),
          '403': errorResponse('Origin not allowed'),
          '409': errorResponse('Same Idempotency-Key still in flight'),
          '413': errorResponse('Upload over a size limit'),
          '415': errorResponse('Not multipart, or a file that is not audio'),
          '422': errorResponse('Idempotency-Key reused, or Truedy validation failed'),
          '429': errorResponse('Rate limited (this service or Truedy)'),
          '502': errorResponse('Truedy failed'),
          '503': errorResponse('Shutting down, or the shared store is unavailable'),
          '504': errorResponse('Truedy timed out'),
        },
      },
    },
    '/api/voices/{id}': {
      get: {
        summary: 'One voice, normalized',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: {
          '200': { description: 'The voice', content: json(ref('VoiceEnvelope')) },
          '404': errorResponse('No such voice'),
          '502': errorResponse('Truedy failed'),
        },
      },
    },
    '/healthz': {
      get: {
        responses: {
          '200': {
            description: 'The process runs',
            content: json({ type: 'object', required: ['status'], properties: { status: { const: 'ok' } } }),
          },
        },
      },
    },
    '/readyz': {
      get: {
        responses: {
          '200': { description: 'Ready', content: json(ref('Readiness')) },
          '503': { description: 'Draining, or Redis unreachable', content: json(ref('Readiness')) },
        },
      },
    },
    '/metrics': { get: { responses: { '200': { description: 'Prometheus text exposition' } } } },
  },
  components: {
    schemas: {
      Voice: closedObject({
        id: { type: 'string' },
        name: { type: 'string' },
        provider: nullableString,
        type: { enum: ['custom', 'reference'] },
        language: nullableString,
        status: { enum: ['training', 'active', 'failed'] },
        created_at: { type: 'string' },
        updated_at: { type: 'string' },
        gender: nullableString,
        accent: nullableString,
        preview_url: nullableString,
      }),
      VoiceEnvelope: closedObject({
        data: ref('Voice'),
        meta: closedObject({
          request_id: { type: 'string' },
          upstream_request_id: nullableString,
          ts: { type: 'string' },
        }),
      }),
      ErrorEnvelope: closedObject({
        error: closedObject(
          {
            code: { type: 'string', examples: Object.keys(ERROR_TABLE) },
            message: { type: 'string' },
            details: { type: 'object' },
          },
          ['details'],
        ),
        meta: closedObject({ request_id: { type: 'string' }, ts: { type: 'string' } }),
      }),
      Readiness: closedObject({
        status: { enum: ['ready', 'draining', 'unavailable'] },
        upstream: { enum: ['truedy', 'sandbox'] },
        redis: { enum: ['ok', 'disabled', 'unavailable'] },
      }),
    },
  },
} as const;
