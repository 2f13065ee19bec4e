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
      maxFiles: 25,
      maxFileBytes: 10_485_760,
      maxTotalBytes: 52_428_800,
      // the files' limit plus 1 MiB of multipart framing and small fields
      maxRequestBytes: 52_428_800 + 1_048_576,
      upstreamTimeoutMs: 120_000,
      retry: { maxAttempts: 4, baseDelayMs: 500, maxDelayMs: 20_000, budgetMs: 60_000 },
      rateLimit: { windowMs: 60_000, max: 20 },
      upstreamRateLimitPerMinute: 100,
      redisUrl: undefined,
      allowedOrigins: [],
      clientTokens: [],
      trustProxy: false,
      logLevel: 'info',
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
    ['ALLOWED_ORIGINS', 'https://ok.example,nonsense'],
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
    expect(c.maxFiles).toBe(25);
    expect(c.redisUrl).toBeUndefined();
    expect(c.allowedOrigins).toEqual(['https://a.example', 'http://localhost:5173']);
    expect(c.clientTokens).toHaveLength(2);
    expect(c.trustProxy).toBe(2);
    expect(c.truedyBaseUrl).toBe('http://127.0.0.1:4010');
    expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy).toBe('loopback, 10.0.0.0/8');
  });

  it('.env.example lists every variable the schema reads', () => {
    const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    const listed = [...example.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]);
    expect(new Set(listed)).toEqual(new Set(CONFIG_VARIABLES));
  });
});
