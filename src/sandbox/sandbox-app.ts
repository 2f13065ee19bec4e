import { randomUUID } from 'node:crypto';
import express, { type Express, type Request, type Response } from 'express';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { type Clock, systemClock } from '../clock.js';

/** Options for the fake Truedy. */
export interface SandboxOptions {
  apiKey: string;
  clock?: Clock;
  /** How long a cloned voice stays `training` before `GET /voices/{id}` says active. */
  activateAfterMs?: number;
  /** Where the sandbox records the W3C `traceparent` each call brings (only calls that bring one). */
  log?: Logger;
}

/** A W3C traceparent (https://www.w3.org/TR/trace-context/#traceparent-header): version, trace id, parent id, flags. */
const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-([\da-f]{16})-[\da-f]{2}$/;

interface StoredVoice {
  id: string;
  name: string;
  createdAt: number;
  shape: 'a' | 'b';
}

/** The sandbox remembers this many voices, and each for this long (an hour: long enough for any form session). */
const MAX_VOICES = 10_000;
const VOICE_TTL_MS = 60 * 60 * 1000;

/**
 * A fake Truedy (SPEC "Sandbox"): `POST /voices/clone` checks the key, the JSON body and the base64,
 * answers in either documented shape, and plays the error scenarios named in the voice name;
 * `GET /voices/{id}` turns a clone from training to active after `activateAfterMs`.
 */
export function createSandboxApp(options: SandboxOptions): Express {
  const clock = options.clock ?? systemClock;
  const activateAfterMs = options.activateAfterMs ?? 4000;
  const voices = new LRUCache<string, StoredVoice>({ max: MAX_VOICES, ttl: VOICE_TTL_MS, perf: clock });
  // Requests already answered 429 once (the service repeats its X-Request-Id on every attempt).
  const rateLimited = new LRUCache<string, true>({ max: MAX_VOICES, ttl: VOICE_TTL_MS, perf: clock });
  let clones = 0;

  const app = express();
  app.disable('x-powered-by');
  const meta = () => ({
    request_id: `req_${randomUUID().slice(0, 12)}`,
    ts: new Date(clock.now()).toISOString(),
  });
  const fail = (res: Response, status: number, code: string, message: string, details?: unknown) =>
    res.status(status).json({ error: { code, message, ...(details ? { details } : {}) }, meta: meta() });

  // The service sends each attempt's traceparent: logged with its trace id, a sandbox call is
  // found from the form's trace the way Truedy's own logs would be (SPEC "Operations": Tracing).
  app.use((req, _res, next) => {
    const m = TRACEPARENT.exec(req.get('traceparent') ?? '');
    if (m && options.log) {
      options.log.info(
        { method: req.method, path: req.path, traceparent: m[0], trace_id: m[1], parent_span_id: m[2] },
        'sandbox: call received',
      );
    }
    next();
  });
  app.use((req, res, next) => {
    if (req.get('authorization') !== `Bearer ${options.apiKey}`) {
      return fail(res, 401, 'unauthorized', 'Invalid or missing API key');
    }
    next();
  });

  app.post('/voices/clone', express.json({ limit: '512mb' }), (req: Request, res: Response) => {
    const problems = validateClone(req.body);
    if (problems.length) return res.status(422).json({ detail: problems });
    const body = req.body as { name: string; files: { filename: string; data: string }[] };
    const name = body.name;

    if (name.includes('[rate-limit]')) {
      // Once per request (the service repeats its X-Request-Id on every attempt), like Truedy: reset_at in the body, no Retry-After.
      const key = req.get('x-request-id') ?? name;
      if (!rateLimited.has(key)) {
        rateLimited.set(key, true);
        const now = clock.now();
        return res.status(429).json({
          error: {
            code: 'rate_limit_exceeded',
            message: 'Rate limit exceeded',
            details: { limit: 100, reset_at: new Date(now + 1000).toISOString() },
          },
          meta: { ts: new Date(now).toISOString() },
        });
      }
    }
    if (name.includes('[no-credits]')) {
      return fail(res, 402, 'insufficient_credits', 'Insufficient credits for voice cloning', {
        required_credits: 100,
        current_balance: 50,
      });
    }
    if (name.includes('[invalid-audio]')) {
      return fail(res, 400, 'invalid_audio', 'The audio could not be processed', {
        filename: body.files[0]?.filename,
      });
    }
    if (name.includes('[server-error]')) return fail(res, 500, 'internal_error', 'Internal server error');

    clones += 1;
    const voice: StoredVoice = {
      id: `voice_${randomUUID().replace(/-/g, '').slice(0, 16)}`,
      name,
      createdAt: clock.now(),
      shape: clones % 2 ? 'a' : 'b',
    };
    voices.set(voice.id, voice);
    res.status(201).json({ data: render(voice, false), meta: meta() });
  });

  app.get('/voices/:id', (req: Request<{ id: string }>, res: Response) => {
    const voice = voices.get(req.params.id);
    if (!voice) return fail(res, 404, 'not_found', 'The requested resource does not exist');
    res.json({ data: render(voice, clock.now() - voice.createdAt >= activateAfterMs), meta: meta() });
  });

  app.use((_req: Request, res: Response) =>
    fail(res, 404, 'not_found', 'The requested resource does not exist'),
  );
  app.use(
    (err: { status?: number; type?: string }, _req: Request, res: Response, _next: express.NextFunction) => {
      if (err.type === 'entity.parse.failed') {
        return res
          .status(422)
          .json({ detail: [{ loc: ['body'], msg: 'Invalid JSON', type: 'json_invalid' }] });
      }
      if (err.status === 413) return fail(res, 413, 'payload_too_large', 'Request body too large');
      return fail(res, 500, 'internal_error', 'Internal server error');
    },
  );
  return app;
}

/** The two voice shapes the OpenAPI file shows (one with type/updated_at, one with is_custom/gender/accent). */
function render(v: StoredVoice, active: boolean) {
  const created = new Date(v.createdAt).toISOString();
  return v.shape === 'a'
    ? {
        id: v.id,
        name: v.name,
        provider: 'elevenlabs',
        type: 'custom',
        language: 'en-US',
        status: active ? 'active' : 'training',
        created_at: created,
        updated_at: created,
      }
    : {
        id: v.id,
        name: v.name,
        gender: 'female',
        language: 'en-US',
        accent: 'American',
        provider: 'elevenlabs',
        preview_url: `https://api.truedy.ai/voices/${v.id}/preview`,
        is_custom: true,
        created_at: created,
        status: active ? 'ready' : 'processing',
      };
}

/** FastAPI-style `detail[]` for a clone body that breaks the OpenAPI schema. */
export function validateClone(body: unknown): { loc: (string | number)[]; msg: string; type: string }[] {
  const out: { loc: (string | number)[]; msg: string; type: string }[] = [];
  const b = body as { name?: unknown; files?: unknown } | null;
  if (typeof b !== 'object' || b === null)
    return [{ loc: ['body'], msg: 'Expected an object', type: 'type_error' }];
  if (typeof b.name !== 'string' || [...b.name].length < 1 || [...b.name].length > 100) {
    out.push({ loc: ['body', 'name'], msg: 'String of 1 to 100 characters required', type: 'string_type' });
  }
  if (!Array.isArray(b.files) || b.files.length === 0) {
    out.push({ loc: ['body', 'files'], msg: 'At least one file required', type: 'too_short' });
    return out;
  }
  b.files.forEach((f: unknown, i: number) => {
    const file = f as { filename?: unknown; data?: unknown; content_type?: unknown } | null;
    if (typeof file?.filename !== 'string') {
      out.push({ loc: ['body', 'files', i, 'filename'], msg: 'Field required', type: 'missing' });
    }
    if (typeof file?.data !== 'string' || !isBase64(file.data)) {
      out.push({ loc: ['body', 'files', i, 'data'], msg: 'Invalid base64 data', type: 'base64_decode' });
    }
    if (file?.content_type !== undefined && typeof file.content_type !== 'string') {
      out.push({ loc: ['body', 'files', i, 'content_type'], msg: 'String required', type: 'string_type' });
    }
  });
  return out;
}

/** Standard base64 with padding and no line breaks; checked without a backtracking regex so 60 MB strings are cheap. */
export function isBase64(s: string): boolean {
  if (s.length % 4 !== 0 || /[^A-Za-z0-9+/=]/.test(s)) return false;
  const pad = s.indexOf('=');
  return pad === -1 || (pad >= s.length - 2 && /^=+$/.test(s.slice(pad)));
}
