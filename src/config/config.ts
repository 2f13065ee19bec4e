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

const list = z
  .string()
  .optional()
  .transform((v) =>
    (v ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

const trustProxy = z
  .string()
  .trim()
  .default('false')
  .transform((v): boolean | number | string => {
    if (v === 'false' || v === '') return false;
    if (v === 'true') return true;
    if (/^\d+$/.test(v)) return Number(v);
    return v; // a comma list of subnets or Express's names (loopback, uniquelocal…)
  });

const schema = z.object({
  NODE_ENV: z.string().default('development'),
  TRUEDY_API_KEY: z
    .string()
    .trim()
    .optional()
    .transform((v) => v || undefined),
  TRUEDY_BASE_URL: z
    .url({ protocol: /^https?$/ })
    .default('https://api.truedy.ai/api/public/v1')
    .transform((v) => v.replace(/\/+$/, '')),
  HOST: z.string().trim().min(1).default('127.0.0.1'),
  PORT: int(0, 3000).pipe(z.number().max(65535)),
  MAX_FILES: int(1, 25),
  MAX_FILE_BYTES: int(1, 10_485_760),
  MAX_TOTAL_BYTES: int(1, 52_428_800),
  UPSTREAM_TIMEOUT_MS: int(1, 120_000),
  RETRY_MAX_ATTEMPTS: int(1, 4),
  RETRY_BASE_DELAY_MS: int(0, 500),
  RETRY_MAX_DELAY_MS: int(0, 20_000),
  RETRY_BUDGET_MS: int(0, 60_000),
  RATE_LIMIT_WINDOW_MS: int(1, 60_000),
  RATE_LIMIT_MAX: int(1, 20),
  UPSTREAM_RATE_LIMIT_PER_MINUTE: int(0, 100),
  REDIS_URL: z
    .string()
    .trim()
    .optional()
    .transform((v) => v || undefined)
    .pipe(z.url({ protocol: /^rediss?$/ }).optional()),
  ALLOWED_ORIGINS: list.pipe(z.array(z.url({ protocol: /^https?$/ }))),
  CLIENT_TOKENS: list.pipe(z.array(z.string().min(16, 'each token needs at least 16 characters'))),
  TRUST_PROXY: trustProxy,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  UPLOAD_DIR: z.string().trim().min(1).default(os.tmpdir()),
  SHUTDOWN_TIMEOUT_MS: int(0, 30_000),
  HEADERS_TIMEOUT_MS: int(1, 20_000),
  REQUEST_TIMEOUT_MS: int(1, 300_000),
});

/** Validated service configuration (SPEC "Configuration"), camel-cased. */
export interface Config {
  nodeEnv: string;
  truedyApiKey: string | undefined;
  truedyBaseUrl: string;
  host: string;
  port: number;
  maxFiles: number;
  maxFileBytes: number;
  maxTotalBytes: number;
  upstreamTimeoutMs: number;
  retry: { maxAttempts: number; baseDelayMs: number; maxDelayMs: number; budgetMs: number };
  rateLimit: { windowMs: number; max: number };
  upstreamRateLimitPerMinute: number;
  redisUrl: string | undefined;
  allowedOrigins: string[];
  clientTokens: string[];
  trustProxy: boolean | number | string;
  logLevel: string;
  uploadDir: string;
  shutdownTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /**
   * The largest multipart body an acceptable upload can make: MAX_TOTAL_BYTES of files plus room
   * for the framing, the name and the other small fields (multer caps them at 16 × 16 KiB).
   */
  maxRequestBytes: number;
}

/** Room for the multipart framing and the small fields around the files' bytes. */
const MULTIPART_OVERHEAD_BYTES = 1024 * 1024;

/** The environment variables the service reads; `.env.example` lists the same (tested). */
export const CONFIG_VARIABLES = Object.keys(schema.shape);

/** Parses and validates the environment once; throws ConfigError naming the first bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  // `VAR=` in an env file means "not set", so empty values fall back to defaults.
  const present = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''),
  );
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(String(issue?.path[0] ?? 'environment'), issue?.message ?? 'invalid');
  }
  const e = parsed.data;
  if (e.NODE_ENV === 'production' && !e.TRUEDY_API_KEY) {
    throw new ConfigError('TRUEDY_API_KEY', 'is required when NODE_ENV=production');
  }
  return {
    nodeEnv: e.NODE_ENV,
    truedyApiKey: e.TRUEDY_API_KEY,
    truedyBaseUrl: e.TRUEDY_BASE_URL,
    host: e.HOST,
    port: e.PORT,
    maxFiles: e.MAX_FILES,
    maxFileBytes: e.MAX_FILE_BYTES,
    maxTotalBytes: e.MAX_TOTAL_BYTES,
    upstreamTimeoutMs: e.UPSTREAM_TIMEOUT_MS,
    retry: {
      maxAttempts: e.RETRY_MAX_ATTEMPTS,
      baseDelayMs: e.RETRY_BASE_DELAY_MS,
      maxDelayMs: e.RETRY_MAX_DELAY_MS,
      budgetMs: e.RETRY_BUDGET_MS,
    },
    rateLimit: { windowMs: e.RATE_LIMIT_WINDOW_MS, max: e.RATE_LIMIT_MAX },
    upstreamRateLimitPerMinute: e.UPSTREAM_RATE_LIMIT_PER_MINUTE,
    redisUrl: e.REDIS_URL,
    allowedOrigins: e.ALLOWED_ORIGINS.map((o) => new URL(o).origin),
    clientTokens: e.CLIENT_TOKENS,
    trustProxy: e.TRUST_PROXY,
    logLevel: e.LOG_LEVEL,
    uploadDir: e.UPLOAD_DIR,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    headersTimeoutMs: e.HEADERS_TIMEOUT_MS,
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    maxRequestBytes: e.MAX_TOTAL_BYTES + MULTIPART_OVERHEAD_BYTES,
  };
}
