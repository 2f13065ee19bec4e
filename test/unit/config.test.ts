import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../../src/config/config.js';

describe('loadConfig', () => {
  it('applies SPEC defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      truedyBaseUrl: 'https://api.truedy.ai/api/public/v1',
      host: '127.0.0.1',
      port: 3000,
      limits: {
        maxFiles: 25,
        maxFileBytes: 10_485_760,
        maxTotalBytes: 52_428_800,
        // the files' limit plus 1 MiB of multipart framing and small fields
        maxRequestBytes: 52_428_800 + 1_048_576,
        minAudioSeconds: 0,
        maxAudioSeconds: 0,
      },
      upstreamMaxResponseBytes: 1_048_576,
      memoryBuffer: { fileBytes: 1_048_576, totalBytes: 33_554_432 },
      requireConsent: false,
      upstreamTimeoutMs: 120_000,
      retry: { maxAttempts: 4, baseDelayMs: 500, maxDelayMs: 20_000, budgetMs: 60_000 },
      rateLimit: { windowMs: 60_000, max: 20 },
      upstreamRateLimitPerMinute: 100,
      redis: undefined,
      allowedOrigins: [],
      auth: { clientTokens: [], jwt: undefined, proxyUserHeader: undefined },
      auditLog: undefined,
      tracing: undefined,
      trustProxy: false,
      logLevel: 'info',
      logBufferBytes: 8_388_608,
      shutdownTimeoutMs: 30_000,
    });
    expect(c.truedyApiKey).toBeUndefined();
  });

  it.each([
    ['MAX_FILES', 'abc'],
    ['PORT', '70000'],
    ['RETRY_MAX_ATTEMPTS', '0'],
    ['UPSTREAM_TIMEOUT_MS', '1.5'],
    ['TRUEDY_BASE_URL', 'not a url'],
    ['REDIS_URL', 'http://localhost:6379'],
    ['LOG_LEVEL', 'loud'],
    // 0 would be no bound at all to the log's stream.
    ['LOG_BUFFER_BYTES', '0'],
    ['ALLOWED_ORIGINS', 'https://ok.example,nonsense'],
    ['REQUIRE_CONSENT', 'maybe'],
    ['MIN_AUDIO_SECONDS', '-1'],
    ['UPSTREAM_MAX_RESPONSE_BYTES', '0'],
    ['AUTH_JWKS_URL', 'ftp://idp.example/jwks'],
    ['AUTH_PROXY_USER_HEADER', 'not a header'],
    ['REDIS_SENTINELS', 'no-port'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318'],
    // Past Node's longest timer a timeout would fire at once.
    ['UPSTREAM_TIMEOUT_MS', '3000000000'],
    ['RATE_LIMIT_WINDOW_MS', '99999999999'],
    ['SHUTDOWN_TIMEOUT_MS', '2147483648'],
    ['RETRY_BUDGET_MS', '9007199254740991'],
  ])('a bad %s stops start-up naming the variable', (variable, value) => {
    expect(() => loadConfig({ [variable]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [variable]: value })).toThrow(new RegExp(`^${variable}: `));
  });

  it('requires the key in production only', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/TRUEDY_API_KEY/);
    expect(loadConfig({ NODE_ENV: 'production', TRUEDY_API_KEY: 'k' }).truedyApiKey).toBe('k');
    expect(loadConfig({ NODE_ENV: 'development' }).truedyApiKey).toBeUndefined();
  });

  it('treats empty values as unset and parses lists and trust proxy', () => {
    const c = loadConfig({
      MAX_FILES: '',
      REDIS_URL: ' ',
      ALLOWED_ORIGINS: 'https://a.example/, http://localhost:5173',
      CLIENT_TOKENS: 'aaaaaaaaaaaaaaaa,bbbbbbbbbbbbbbbb',
      TRUST_PROXY: '2',
      TRUEDY_BASE_URL: 'http://127.0.0.1:4010/',
    });
    expect(c.limits.maxFiles).toBe(25);
    expect(c.redis).toBeUndefined();
    expect(c.allowedOrigins).toEqual(['https://a.example', 'http://localhost:5173']);
    expect(c.auth.clientTokens).toHaveLength(2);
    expect(c.trustProxy).toBe(2);
    expect(c.truedyBaseUrl).toBe('http://127.0.0.1:4010');
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toBe('loopback, 10.0.0.0/8');
    expect([
      loadConfig({ TRUST_PROXY: 'True' }).trustProxy,
      loadConfig({ TRUST_PROXY: 'FALSE' }).trustProxy,
    ]).toEqual([true, false]);
    expect(loadConfig({ SHUTDOWN_TIMEOUT_MS: '2147483647' }).shutdownTimeoutMs).toBe(2_147_483_647);
  });

  it.each([
    [{ AUTH_JWKS_URL: 'https://idp.example/jwks' }, /^AUTH_ISSUER: .*missing: AUTH_ISSUER, AUTH_AUDIENCE/],
    [
      { AUTH_ISSUER: 'https://idp.example', AUTH_AUDIENCE: 'bff' },
      /^AUTH_JWKS_URL: .*missing: AUTH_JWKS_URL/,
    ],
    [{ REDIS_SENTINELS: '127.0.0.1:26379' }, /^REDIS_SENTINEL_NAME: /],
    [{ REDIS_CLUSTER: 'true' }, /^REDIS_URL: /],
    [{ REDIS_URL: 'redis://a:1,redis://b:2' }, /^REDIS_URL: .*REDIS_CLUSTER/],
    [{ REDIS_URL: 'rediss://a:1', REDIS_TLS_CERT_FILE: '/c.pem' }, /^REDIS_TLS_KEY_FILE: /],
    [{ REDIS_URL: 'redis://a:1', REDIS_TLS_CA_FILE: '/ca.pem' }, /^REDIS_TLS_CA_FILE: .*rediss:/],
    [
      { REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'm', REDIS_TLS_CA_FILE: '/ca.pem' },
      /^REDIS_TLS_CA_FILE: /,
    ],
    [{ REDIS_URL: 'rediss://a:1,redis://b:2', REDIS_CLUSTER: 'true' }, /^REDIS_URL: mixes/],
    [{ MIN_AUDIO_SECONDS: '90', MAX_AUDIO_SECONDS: '60' }, /^MIN_AUDIO_SECONDS: /],
  ])('settings that only work together stop start-up naming what is missing (%o)', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('groups identity, Redis and tracing settings when they are given', () => {
    const c = loadConfig({
      AUTH_JWKS_URL: 'https://idp.example/jwks',
      AUTH_ISSUER: 'https://idp.example',
      AUTH_AUDIENCE: 'bff',
      AUTH_PROXY_USER_HEADER: 'X-Forwarded-Email',
      REDIS_URL: 'redis://10.0.0.1:7000, redis://10.0.0.2:7000',
      REDIS_CLUSTER: 'true',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318',
      MIN_AUDIO_SECONDS: '30.5',
      REQUIRE_CONSENT: 'true',
    });
    expect(c.auth.jwt).toEqual({
      jwksUrl: 'https://idp.example/jwks',
      issuer: 'https://idp.example',
      audience: 'bff',
    });
    expect(c.auth.proxyUserHeader).toBe('x-forwarded-email');
    expect(c.redis).toMatchObject({
      urls: ['redis://10.0.0.1:7000', 'redis://10.0.0.2:7000'],
      cluster: true,
      keyPrefix: 'truedy-bff:',
    });
    expect(c.tracing).toEqual({ serviceName: 'truedy-voice-bff' });
    expect(c.limits.minAudioSeconds).toBe(30.5);
    expect(c.requireConsent).toBe(true);
    expect(
      loadConfig({ REDIS_SENTINELS: 'a:26379,b:26380', REDIS_SENTINEL_NAME: 'mymaster' }).redis,
    ).toMatchObject({
      sentinels: [
        { host: 'a', port: 26379 },
        { host: 'b', port: 26380 },
      ],
      sentinelName: 'mymaster',
    });
  });

  it('.env.example lists every variable the schema reads', () => {
    const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    const listed = [...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]);
    expect(new Set(listed)).toEqual(new Set(CONFIG_VARIABLES));
  });
});
