import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';

/** One spooled upload, ready to be encoded. */
export interface SpooledAudio {
  filename: string;
  path: string;
  size: number;
  contentType: string;
}

/** Bytes of standard base64 (with padding, no line breaks) for `n` input bytes. */
export function base64Length(n: number): number {
  return 4 * Math.ceil(n / 3);
}

/**
 * A JSON string literal for any text. JSON.stringify already escapes quotes, backslashes, control
 * characters and lone surrogates; U+2028/U+2029 are legal JSON (RFC 8259) but not legal in older
 * JavaScript string literals, so they are escaped too.
 */
export function jsonString(s: string): string {
  return JSON.stringify(s).replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/**
 * Base64-encodes a byte stream chunk by chunk. Each output piece covers a multiple of 3 input
 * bytes; the 0–2 bytes left over are carried into the next chunk, so the concatenation equals
 * encoding the whole input at once.
 */
export async function* base64Chunks(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let carry: Buffer = Buffer.alloc(0);
  for await (const chunk of source) {
    const bytes = carry.length ? Buffer.concat([carry, chunk]) : chunk;
    const whole = bytes.length - (bytes.length % 3);
    if (whole > 0) yield Buffer.from(bytes.subarray(0, whole).toString('base64'), 'latin1');
    carry = bytes.subarray(whole);
  }
  if (carry.length) yield Buffer.from(carry.toString('base64'), 'latin1');
}

/** Read size: a multiple of 3 so that chunks from disk normally need no carrying. */
const READ_CHUNK = 3 * 64 * 1024;

/** Truedy's clone body, streamed from the spooled files: known length, reproducible for every retry. */
export interface CloneBody {
  contentLength: number;
  open(): Readable;
}

/**
 * Builds `{"name":…,"files":[{"filename":…,"data":"<base64>","content_type":…},…]}` as a stream.
 * Only the JSON framing is held in memory; file bytes are read and encoded as they are sent.
 */
export function createCloneBody(name: string, files: readonly SpooledAudio[]): CloneBody {
  const head = Buffer.from(`{"name":${jsonString(name)},"files":[`);
  const parts = files.map((f, i) => ({
    file: f,
    open: Buffer.from(`${i ? ',' : ''}{"filename":${jsonString(f.filename)},"data":"`),
    close: Buffer.from(`","content_type":${jsonString(f.contentType)}}`),
  }));
  const tail = Buffer.from(']}');
  const contentLength =
    head.length +
    tail.length +
    parts.reduce((n, p) => n + p.open.length + base64Length(p.file.size) + p.close.length, 0);

  async function* generate(): AsyncGenerator<Buffer> {
    yield head;
    for (const p of parts) {
      yield p.open;
      yield* base64Chunks(createReadStream(p.file.path, { highWaterMark: READ_CHUNK }));
      yield p.close;
    }
    yield tail;
  }
  return { contentLength, open: () => Readable.from(generate(), { objectMode: false }) };
}
