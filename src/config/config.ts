import os from 'node:os';
import { z } from 'zod';

/** Raised when an environment variable does not parse; names the variable (SPEC "Configuration"). */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`${variable}: ${reason}`);
    this.name = 'ConfigError';
  }
}

const int = (min: number, fallback: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(Number.MAX_SAFE_INTEGER))
    .default(fallback);

/** Node's longest timer (2^31 − 1 ms, about 24.8 days): a longer one fires at once, with a warning. */
const MAX_TIMER_MS = 2_147_483_647;

/** Milliseconds that become a timer: a whole number from `min` up to MAX_TIMER_MS. */
const ms = (min: number, fallback: number) =>
  int(min, fallback).pipe(
    z.number().max(MAX_TIMER_MS, `must be at most ${MAX_TIMER_MS} (Node's longest timer)`),
  );

/** A non-negative number of seconds, decimals allowed (`0` = no limit). */
const seconds = z
  .string()
  .trim()
  .regex(/^\d+(\.\d+)?$/, 'must be a number of seconds')
  .transform(Number)
  .default(0);

const optionalText = z
  .string()
  .trim()
  .optional()
  .transform((v) => v || undefined);

const list = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .default('false')
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no'], 'must be true or false'))
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const trustProxy = z
  .string()
  .trim()
  .default('false')
  .transform((v): boolean | number | string => {
    if (/^false$/i.test(v) || v === '') return false;
    if (/^true$/i.test(v)) return true;
    if (/^\d+$/.test(v)) return Number(v);
    return v; // a comma list of subnets or Express's names (loopback, uniquelocal…)
  });

const httpUrl = z.url({ protocol: /^https?$/ });
const redisUrl = z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' });

/** `host:port`, as Sentinel addresses are written. */
const hostPort = z
  .string()
  .regex(/^[^\s:]+:\d{1,5}$/, 'must be host:port')
  .transform((v) => {
    const i = v.lastIndexOf(':');
    return { host: v.slice(0, i), port: Number(v.slice(i + 1)) };
  });

/** An HTTP header name (RFC 9110 token). */
const headerName = z
  .string()
  .trim()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'must be an HTTP header name')
  .transform((v) => v.toLowerCase())
  .optional();

/** Room for the multipart framing and the small fields around the files' bytes. */
const MULTIPART_OVERHEAD_BYTES = 1024 * 1024;

/** Every variable the service reads, as zod parses it (SPEC "Configuration"). */
const variables = z.object({
  NODE_ENV: z.string().default('development'),
  TRUEDY_API_KEY: optionalText,
  TRUEDY_BASE_URL: httpUrl
    .default('https://api.truedy.ai/api/public/v1')
    .transform((v) => v.replace(/\/+$/, '')),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  PORT: int(0, 3000).pipe(z.number().max(65535)),
  MAX_FILES: int(1, 25),
  MAX_FILE_BYTES: int(1, 10_485_760),
  MAX_TOTAL_BYTES: int(1, 52_428_800),
  UPSTREAM_TIMEOUT_MS: ms(1, 120_000),
  UPSTREAM_MAX_RESPONSE_BYTES: int(1, 1_048_576),
  RETRY_MAX_ATTEMPTS: int(1, 4),
  RETRY_BASE_DELAY_MS: ms(0, 500),
  RETRY_MAX_DELAY_MS: ms(0, 20_000),
  RETRY_BUDGET_MS: ms(0, 60_000),
  RATE_LIMIT_WINDOW_MS: ms(1, 60_000),
  RATE_LIMIT_MAX: int(1, 20),
  UPSTREAM_RATE_LIMIT_PER_MINUTE: int(0, 100),
  // Cluster mode takes several seed nodes, so the URL is a comma list (SPEC "Several instances").
  REDIS_URL: list.pipe(z.array(redisUrl)),
  REDIS_TLS_CA_FILE: optionalText,
  REDIS_TLS_CERT_FILE: optionalText,
  REDIS_TLS_KEY_FILE: optionalText,
  REDIS_CLUSTER: bool,
  REDIS_SENTINELS: list.pipe(z.array(hostPort)),
  REDIS_SENTINEL_NAME: optionalText,
  REDIS_KEY_PREFIX: z.string().trim().min(1).default('truedy-bff:'),
  ALLOWED_ORIGINS: list.pipe(z.array(httpUrl)),
  CLIENT_TOKENS: list.pipe(z.array(z.string().min(16, 'each token needs at least 16 characters'))),
  AUTH_JWKS_URL: httpUrl.optional(),
  AUTH_ISSUER: optionalText,
  AUTH_AUDIENCE: optionalText,
  AUTH_PROXY_USER_HEADER: headerName,
  AUDIT_LOG: optionalText,
  REQUIRE_CONSENT: bool,
  MIN_AUDIO_SECONDS: seconds,
  MAX_AUDIO_SECONDS: seconds,
  TRUST_PROXY: trustProxy,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  // At least 64 KiB: 0 would mean no bound at all to sonic-boom.
  LOG_BUFFER_BYTES: int(65_536, 8_388_608),
  UPLOAD_DIR: z.string().trim().min(1).default(os.tmpdir()),
  MEMORY_BUFFER_FILE_BYTES: int(0, 1_048_576),
  MEMORY_BUFFER_TOTAL_BYTES: int(0, 33_554_432),
  SHUTDOWN_TIMEOUT_MS: ms(0, 30_000),
  HEADERS_TIMEOUT_MS: ms(1, 20_000),
  REQUEST_TIMEOUT_MS: ms(1, 300_000),
  // The OpenTelemetry SDK reads the standard OTEL_* variables itself; these are checked here so a
  // typo stops start-up like any other value, and so tracing costs nothing when none is set.
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl.optional(),
  OTEL_SERVICE_NAME: z.string().trim().min(1).default('truedy-voice-bff'),
  OTEL_TRACES_SAMPLER: optionalText,
  OTEL_TRACES_SAMPLER_ARG: optionalText,
  OTEL_RESOURCE_ATTRIBUTES: optionalText,
});

/** The environment as read, camel-cased and grouped the way the code uses it. */
const schema = variables
  .superRefine((e, ctx) => {
    const fail = (variable: string, message: string) =>
      ctx.addIssue({ code: 'custom', path: [variable], message });
    if (e.NODE_ENV === 'production' && !e.TRUEDY_API_KEY)
      fail('TRUEDY_API_KEY', 'is required when NODE_ENV=production');
    // SPEC "Identity": the three JWT settings come together or not at all.
    const auth = {
      AUTH_JWKS_URL: e.AUTH_JWKS_URL,
      AUTH_ISSUER: e.AUTH_ISSUER,
      AUTH_AUDIENCE: e.AUTH_AUDIENCE,
    };
    const missing = Object.entries(auth)
      .filter(([, v]) => !v)
      .map(([k]) => k);
    if (missing.length > 0 && missing.length < 3) {
      fail(
        missing[0] as string,
        `is required with ${Object.keys(auth)
          .filter((k) => !missing.includes(k))
          .join(' and ')} (missing: ${missing.join(', ')})`,
      );
    }
    if (e.REDIS_SENTINELS.length > 0 && !e.REDIS_SENTINEL_NAME)
      fail('REDIS_SENTINEL_NAME', 'is required with REDIS_SENTINELS');
    if (e.REDIS_SENTINEL_NAME && e.REDIS_SENTINELS.length === 0)
      fail('REDIS_SENTINELS', 'is required with REDIS_SENTINEL_NAME');
    if (e.REDIS_CLUSTER && e.REDIS_URL.length === 0)
      fail('REDIS_URL', 'is required with REDIS_CLUSTER=true (one or more seed nodes)');
    if (e.REDIS_CLUSTER && e.REDIS_SENTINELS.length > 0)
      fail('REDIS_CLUSTER', 'cannot be combined with REDIS_SENTINELS');
    if (!e.REDIS_CLUSTER && e.REDIS_URL.length > 1)
      fail('REDIS_URL', 'takes several URLs only with REDIS_CLUSTER=true');
    // TLS is chosen by the scheme; TLS files beside a plain redis:// must not mean "no TLS" silently.
    const tlsUrls = e.REDIS_URL.filter((u) => u.startsWith('rediss:')).length;
    if (tlsUrls > 0 && tlsUrls < e.REDIS_URL.length)
      fail('REDIS_URL', 'mixes redis:// and rediss:// (all seed nodes use one scheme)');
    const tlsFile = e.REDIS_TLS_CA_FILE
      ? 'REDIS_TLS_CA_FILE'
      : e.REDIS_TLS_CERT_FILE
        ? 'REDIS_TLS_CERT_FILE'
        : '';
    if (tlsFile && (tlsUrls === 0 || tlsUrls < e.REDIS_URL.length))
      fail(tlsFile, 'needs a rediss:// REDIS_URL (with Sentinel too: it names the scheme and credentials)');
    if (Boolean(e.REDIS_TLS_CERT_FILE) !== Boolean(e.REDIS_TLS_KEY_FILE)) {
      fail(
        e.REDIS_TLS_CERT_FILE ? 'REDIS_TLS_KEY_FILE' : 'REDIS_TLS_CERT_FILE',
        'client certificate and key come together',
      );
    }
    if (e.MAX_AUDIO_SECONDS > 0 && e.MIN_AUDIO_SECONDS > e.MAX_AUDIO_SECONDS)
      fail('MIN_AUDIO_SECONDS', 'is larger than MAX_AUDIO_SECONDS');
  })
  .transform((e) => ({
    nodeEnv: e.NODE_ENV,
    truedyApiKey: e.TRUEDY_API_KEY,
    truedyBaseUrl: e.TRUEDY_BASE_URL,
    host: e.HOST,
    port: e.PORT,
    limits: {
      maxFiles: e.MAX_FILES,
      maxFileBytes: e.MAX_FILE_BYTES,
      maxTotalBytes: e.MAX_TOTAL_BYTES,
      /**
       * The largest multipart body an acceptable upload can make: MAX_TOTAL_BYTES of files plus room
       * for the framing, the name and the other small fields (multer caps them at 16 × 16 KiB).
       */
      maxRequestBytes: e.MAX_TOTAL_BYTES + MULTIPART_OVERHEAD_BYTES,
      minAudioSeconds: e.MIN_AUDIO_SECONDS,
      maxAudioSeconds: e.MAX_AUDIO_SECONDS,
    },
    requireConsent: e.REQUIRE_CONSENT,
    upstreamTimeoutMs: e.UPSTREAM_TIMEOUT_MS,
    upstreamMaxResponseBytes: e.UPSTREAM_MAX_RESPONSE_BYTES,
    retry: {
      maxAttempts: e.RETRY_MAX_ATTEMPTS,
      baseDelayMs: e.RETRY_BASE_DELAY_MS,
      maxDelayMs: e.RETRY_MAX_DELAY_MS,
      budgetMs: e.RETRY_BUDGET_MS,
    },
    rateLimit: { windowMs: e.RATE_LIMIT_WINDOW_MS, max: e.RATE_LIMIT_MAX },
    upstreamRateLimitPerMinute: e.UPSTREAM_RATE_LIMIT_PER_MINUTE,
    /** Set when limits, cooldown, pacing and idempotency are shared through Redis. */
    redis:
      e.REDIS_URL.length > 0 || e.REDIS_SENTINELS.length > 0
        ? {
            urls: e.REDIS_URL,
            cluster: e.REDIS_CLUSTER,
            sentinels: e.REDIS_SENTINELS,
            sentinelName: e.REDIS_SENTINEL_NAME,
            tls: {
              caFile: e.REDIS_TLS_CA_FILE,
              certFile: e.REDIS_TLS_CERT_FILE,
              keyFile: e.REDIS_TLS_KEY_FILE,
            },
            keyPrefix: e.REDIS_KEY_PREFIX,
          }
        : undefined,
    allowedOrigins: e.ALLOWED_ORIGINS.map((o) => new URL(o).origin),
    auth: {
      clientTokens: e.CLIENT_TOKENS,
      jwt:
        e.AUTH_JWKS_URL && e.AUTH_ISSUER && e.AUTH_AUDIENCE
          ? { jwksUrl: e.AUTH_JWKS_URL, issuer: e.AUTH_ISSUER, audience: e.AUTH_AUDIENCE }
          : undefined,
      proxyUserHeader: e.AUTH_PROXY_USER_HEADER,
    },
    auditLog: e.AUDIT_LOG,
    trustProxy: e.TRUST_PROXY,
    logLevel: e.LOG_LEVEL,
    logBufferBytes: e.LOG_BUFFER_BYTES,
    uploadDir: e.UPLOAD_DIR,
    memoryBuffer: { fileBytes: e.MEMORY_BUFFER_FILE_BYTES, totalBytes: e.MEMORY_BUFFER_TOTAL_BYTES },
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    headersTimeoutMs: e.HEADERS_TIMEOUT_MS,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    /** Tracing is on only when an OTLP endpoint is named (SPEC "Operations": otherwise no cost). */
    tracing:
      e.OTEL_EXPORTER_OTLP_ENDPOINT || e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
        ? { serviceName: e.OTEL_SERVICE_NAME }
        : undefined,
  }));

/** Validated service configuration (SPEC "Configuration"), inferred from its schema. */
export type Config = z.output<typeof schema>;

/** The environment variables the service reads; `.env.example` lists the same (tested). */
export const CONFIG_VARIABLES = Object.keys(variables.shape);

/** Parses and validates the environment once; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // `VAR=` in an env file means "not set", so empty values fall back to defaults.
  const present = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => k in variables.shape && v !== undefined && v.trim() !== ''),
  );
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(String(issue?.path[0] ?? 'environment'), issue?.message ?? 'invalid');
  }
  return parsed.data;
}
