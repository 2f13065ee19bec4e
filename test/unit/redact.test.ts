import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import { createLogger } from '../../src/logger.js';
import { createRedactor } from '../../src/redact.js';

const KEY = 'sk_live_51H8abcdefghijklmnop';

describe('createRedactor', () => {
  const r = createRedactor([KEY, 'tok_internal_service_a_0001', undefined, '']);

  it('replaces the key with or without its prefix, tokens, and any Bearer credential', () => {
    expect(r.text(`a ${KEY} b`)).toBe('a [redacted] b');
    expect(r.text('tail live_51H8abcdefghijklmnop and 51H8abcdefghijklmnop')).toBe(
      'tail [redacted] and [redacted]',
    );
    expect(r.text('tok_internal_service_a_0001!')).toBe('[redacted]!');
    expect(r.text('Authorization: Bearer abc.def-ghi')).toBe('Authorization: Bearer [redacted]');
    expect(r.text('bearer   xyz.abc.def')).toBe('bearer [redacted]');
  });

  it('leaves ordinary text alone, including short pieces of a secret', () => {
    expect(r.text('sk_live_ is a prefix; 51H8 too; bearer of news')).toBe(
      'sk_live_ is a prefix; 51H8 too; bearer of news',
    );
  });

  it('walks JSON at any depth, keys included, and cuts what nests absurdly deep', () => {
    expect(r.value({ a: [{ b: { c: KEY } }], [KEY]: 1, n: 5, t: true, z: null })).toEqual({
      a: [{ b: { c: '[redacted]' } }],
      '[redacted]': 1,
      n: 5,
      t: true,
      z: null,
    });
    let deep: unknown = KEY;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    expect(() => JSON.stringify(r.value(deep))).not.toThrow();
    expect(JSON.stringify(r.value(deep))).not.toContain(KEY);
  });
});

describe('the logger', () => {
  it('redacts every finished line, whatever field or message carries the secret', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = createLogger({ level: 'info', destination: sink, redactor: createRedactor([KEY]) });
    log.info({ nested: { echo: `x ${KEY}` }, err: new Error(`failed with ${KEY}`) }, `message ${KEY}`);
    log.warn('Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig');
    const text = lines.join('');
    expect(text).not.toContain('51H8abcdefghijklmnop');
    expect(text).not.toContain('eyJhbGciOiJIUzI1NiJ9');
    expect(text.match(/\[redacted\]/g)?.length).toBeGreaterThanOrEqual(4);
  });
});
