import { describe, expect, it } from '@jest/globals';
import { Ajv2020 } from 'ajv/dist/2020.js';
import request from 'supertest';
import { OPENAPI } from '../../src/http/openapi.js';
import {
  buildService,
  type CloneRequest,
  notAudio,
  postClone,
  suiteSandbox,
  testConfig,
} from '../helpers/kit.js';

const pointer = (...parts: string[]) =>
  parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

describe('GET /openapi.json describes what the service really answers', () => {
  const sandbox = suiteSandbox();
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addSchema(OPENAPI, 'openapi');

  /** Validates a real answer against the document's schema for its path, method and status. */
  function check(path: string, method: string, res: request.Response) {
    const doc = OPENAPI.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>;
    expect(doc[path]?.[method]?.responses[String(res.status)]).toBeDefined();
    const validate = ajv.compile({
      $ref: `openapi#/${pointer('paths', path, method, 'responses', String(res.status), 'content', 'application/json', 'schema')}`,
    });
    const ok = validate(res.body);
    if (!ok) throw new Error(`${method} ${path} ${res.status}: ${ajv.errorsText(validate.errors)}`);
  }

  it('is served and is OpenAPI 3.1', async () => {
    const { app } = buildService(testConfig(), sandbox.url);
    const res = await request(app).get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe('3.1.0');
    // The consent values it lists are the ones the service takes, the "no" ones included.
    const consent =
      res.body.paths['/api/voices/clone'].post.requestBody.content['multipart/form-data'].schema.properties
        .consent;
    expect(consent.enum).toEqual(['true', 'on', 'yes', '1', 'false', 'off', 'no', '0']);
    expect((await postClone(app, { fields: { consent: 'OFF' } })).status).toBe(201);
  });

  it('matches real answers: successes and every kind of error', async () => {
    const { app } = buildService(
      testConfig({ MAX_FILES: '1', RATE_LIMIT_MAX: '6', CLIENT_TOKENS: 'tok_openapi_check_0001' }),
      sandbox.url,
      { upstreamName: 'sandbox' },
    );
    const auth = { Authorization: 'Bearer tok_openapi_check_0001' };
    const clone = (what: CloneRequest = {}) => postClone(app, { ...what, headers: auth });
    const path = '/api/voices/clone';
    const created = await clone({ name: 'Spec' });
    check(path, 'post', created);
    check('/api/voices/{id}', 'get', await request(app).get(`/api/voices/${created.body.data.id}`).set(auth));
    check('/api/voices/{id}', 'get', await request(app).get('/api/voices/nope').set(auth));
    // The origin guard covers every /api route, reads included.
    const foreign = await request(app)
      .get('/api/voices/nope')
      .set(auth)
      .set('Origin', 'https://evil.example');
    expect(foreign.status).toBe(403);
    check('/api/voices/{id}', 'get', foreign);
    check(path, 'post', await clone({ name: '', files: [] }));
    check(path, 'post', await postClone(app, { name: 'x', files: [] }));
    check(path, 'post', await clone({ files: [notAudio('image.png')] }));
    check(path, 'post', await clone({ files: ['sample.mp3', 'sample.ogg'] }));
    check(path, 'post', await clone({ name: 'x [no-credits]' }));
    check(path, 'post', await clone({ name: 'x [server-error]' }));
    const limited = await clone();
    expect(limited.status).toBe(429);
    check(path, 'post', limited);
    check('/healthz', 'get', await request(app).get('/healthz'));
    check('/readyz', 'get', await request(app).get('/readyz'));
  });
});
