import { isRecord } from './values.js';

/** What secrets are replaced with, in answers and in log lines (SPEC "Errors"). */
export const REDACTED = '[redacted]';

/** A secret's tail is matched too only when this long: shorter ones would hide ordinary text. */
const MIN_TAIL_CHARS = 12;

/** Deeper than this, relayed JSON is cut: no real error detail nests so far, and walking it must not overflow the stack. */
const MAX_DEPTH = 32;

/** Replaces secrets in text and in JSON values. */
export interface Redactor {
  text(s: string): string;
  value(v: unknown): unknown;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The forms a secret can be echoed in: whole, and without a key-style prefix (`sk_`, `sk_live_`:
 * SPEC "whether or not the key appears with its prefix"), longest first so a match takes all of it.
 */
function needles(secret: string): string[] {
  const out = new Set([secret]);
  let rest = secret;
  for (let i = 0; i < 2; i++) {
    const m = /^[A-Za-z]{2,8}_/.exec(rest);
    if (!m) break;
    rest = rest.slice(m[0].length);
    if (rest.length >= MIN_TAIL_CHARS) out.add(rest);
  }
  return [...out];
}

/**
 * Builds the redactor for the service's secrets (the Truedy key, every client token). Any
 * `Bearer <credential>` is replaced too, whoever's credential it is: Truedy (or a proxy in front
 * of it) echoing an Authorization header must not relay a caller's JWT either.
 */
export function createRedactor(secrets: readonly (string | undefined)[]): Redactor {
  const literal = secrets
    .filter((s): s is string => typeof s === 'string' && s.length > 0)
    .flatMap(needles)
    .sort((a, b) => b.length - a.length)
    .map(escapeRegExp);
  const pattern = new RegExp([String.raw`\bBearer\s+[^\s"'<>,;]{8,}`, ...literal].join('|'), 'gi');
  const text = (s: string) =>
    s.replace(pattern, (m) => (/^bearer\s/i.test(m) ? `${m.slice(0, 6)} ${REDACTED}` : REDACTED));
  const value = (v: unknown, depth = 0): unknown => {
    if (typeof v === 'string') return text(v);
    if (depth >= MAX_DEPTH && (Array.isArray(v) || isRecord(v))) return REDACTED;
    if (Array.isArray(v)) return v.map((x) => value(x, depth + 1));
    if (isRecord(v))
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [text(k), value(x, depth + 1)]));
    return v;
  };
  return { text, value: (v) => value(v) };
}
