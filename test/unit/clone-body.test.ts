import { randomBytes } from 'node:crypto';
import { readdirSync, readSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import {
  base64Length,
  createCloneBody,
  jsonString,
  MEMORY_BATCH,
  READ_CHUNK,
  type ReadFn,
} from '../../src/upload/clone-body.js';
import { hasRawControl, tempDir } from '../helpers/fixtures.js';

/** The whole body one `open()` gives, whether a stream or (small and in memory) one buffer. */
async function collect(opened: Readable | Buffer): Promise<Buffer> {
  if (Buffer.isBuffer(opened)) return opened;
  const out: Buffer[] = [];
  for await (const c of opened) out.push(Buffer.from(c as Buffer));
  return Buffer.concat(out);
}

/** The body as a stream: the test fails if it opened as one buffer instead. */
function streamOf(opened: Readable | Buffer): Readable {
  if (!(opened instanceof Readable)) throw new Error('expected the body to open as a stream');
  return opened;
}

describe('jsonString', () => {
  it.each([
    'plain',
    'quote " and backslash \\ and C:\\Users\\me\\voice.mp3',
    'controls \u0000\u0001\b\f\n\r\t\u001f',
    'emoji 🎙️ and 中文 and é',
    'line sep \u2028 para sep \u2029',
    'lone surrogate \ud800 end',
    '</script><!--',
  ])('round-trips %j as JSON', (s) => {
    const literal = jsonString(s);
    expect(JSON.parse(literal)).toBe(s);
    expect(hasRawControl(literal)).toBe(false);
  });

  it('keeps lone surrogates recoverable as escapes', () => {
    expect(jsonString('\ud800')).toBe('"\\ud800"');
  });
});

describe('createCloneBody', () => {
  const SLICE = 3 * 16 * 1024;
  const sizes = [
    0,
    1,
    2,
    3,
    4,
    SLICE - 1,
    SLICE,
    SLICE + 1,
    READ_CHUNK - 1,
    READ_CHUNK,
    READ_CHUNK + 1,
    READ_CHUNK + 2,
    2 * READ_CHUNK + 1,
  ];

  it('streams valid JSON whose files decode byte-exactly, with an exact Content-Length', async () => {
    const dir = tempDir();
    const files = sizes.map((size, i) => {
      const p = path.join(dir, `f${i}`);
      const data = randomBytes(size);
      writeFileSync(p, data);
      // Every other file is held in memory (SPEC: memory first, disk beyond): both encode the same.
      const source = i % 2 ? { path: p } : { bytes: data };
      return { data, spooled: { filename: `f"${i}\\.mp3`, source, size, contentType: 'audio/mpeg' } };
    });
    const body = createCloneBody(
      'Name "quoted" \u2028 🎙️',
      files.map((f) => f.spooled),
    );
    const bytes = await collect(body.open());
    expect(bytes.length).toBe(body.contentLength);
    const parsed = JSON.parse(bytes.toString('utf8')) as {
      name: string;
      files: { filename: string; data: string; content_type: string }[];
    };
    expect(parsed.name).toBe('Name "quoted" \u2028 🎙️');
    expect(Object.keys(parsed)).toEqual(['name', 'files']);
    parsed.files.forEach((f, i) => {
      expect(f.filename).toBe(`f"${i}\\.mp3`);
      expect(f.content_type).toBe('audio/mpeg');
      expect(f.data).toMatch(/^[A-Za-z0-9+/]*={0,2}$/);
      expect(f.data.length).toBe(base64Length(sizes[i] as number));
      expect(Buffer.from(f.data, 'base64').equals(files[i]?.data as Buffer)).toBe(true);
    });
  });

  it('encodes a file held in memory exactly as the same file spooled', async () => {
    const p = path.join(tempDir(), 'm');
    const data = randomBytes(2 * READ_CHUNK + 7);
    writeFileSync(p, data);
    const from = (source: { path: string } | { bytes: Buffer }) =>
      collect(
        createCloneBody('n', [{ filename: 'm', source, size: data.length, contentType: 'audio/wav' }]).open(),
      );
    expect((await from({ bytes: data })).equals(await from({ path: p }))).toBe(true);
  });

  it('sends what memory holds in chunks of at most MEMORY_BATCH, splitting files on whole base64 groups', async () => {
    const third = (MEMORY_BATCH / 4) * 3;
    const sizes = [third - 1, third, third + 1, 1, 0, 2 * third + 2];
    const files = sizes.map((n) => randomBytes(n));
    const body = createCloneBody(
      'n',
      files.map((data, i) => ({
        filename: `f${i}`,
        source: { bytes: data },
        size: data.length,
        contentType: 'a/b',
      })),
    );
    const chunks: Buffer[] = [];
    for await (const c of streamOf(body.open())) chunks.push(Buffer.from(c as Buffer));
    const bytes = Buffer.concat(chunks);
    expect(bytes.length).toBe(body.contentLength);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(MEMORY_BATCH);
    // Nearly 4 MiB of base64 in a handful of writes, not in 48 KiB pieces.
    expect(chunks.length).toBeLessThan(8);
    const sent = (JSON.parse(bytes.toString()) as { files: { data: string }[] }).files;
    expect(sent.map((f, i) => Buffer.from(f.data, 'base64').equals(files[i] as Buffer))).toEqual(
      files.map(() => true),
    );
  });

  it('produces byte-identical bodies every time it is opened (one per retry)', async () => {
    const dir = tempDir();
    const p = path.join(dir, 'a');
    writeFileSync(p, randomBytes(300_001));
    const body = createCloneBody('n', [
      { filename: 'a.wav', source: { path: p }, size: 300_001, contentType: 'audio/wav' },
    ]);
    const [a, b] = [await collect(body.open()), await collect(body.open())];
    expect(a.equals(b)).toBe(true);
  });

  it('opens a small body held wholly in memory as one fresh buffer, the same bytes as the stream gives', async () => {
    const p = path.join(tempDir(), 'm');
    const data = randomBytes(200 * 1024 + 1);
    writeFileSync(p, data);
    const body = (source: { path: string } | { bytes: Buffer }) =>
      createCloneBody('n', [{ filename: 'm', source, size: data.length, contentType: 'audio/wav' }]);
    const held = body({ bytes: data });
    const [a, b] = [held.open(), held.open()];
    if (!Buffer.isBuffer(a)) throw new Error('expected one buffer');
    // A new buffer per attempt: nothing one attempt's request does to it reaches the next.
    expect(a).not.toBe(b);
    expect(a.length).toBe(held.contentLength);
    expect(a.equals(b as Buffer)).toBe(true);
    expect(a.equals(await collect(streamOf(body({ path: p }).open())))).toBe(true);
  });

  it('streams a body in memory that is longer than MEMORY_BATCH, and any body with a spooled file', () => {
    const big = randomBytes((MEMORY_BATCH / 4) * 3);
    const small = randomBytes(10);
    const p = path.join(tempDir(), 's');
    writeFileSync(p, small);
    const file = (source: { path: string } | { bytes: Buffer }, size: number) => ({
      filename: 'f',
      source,
      size,
      contentType: 'audio/wav',
    });
    expect(createCloneBody('n', [file({ bytes: big }, big.length)]).open()).toBeInstanceOf(Readable);
    const mixed = createCloneBody('n', [file({ bytes: small }, 10), file({ path: p }, 10)]).open();
    expect(mixed).toBeInstanceOf(Readable);
    streamOf(mixed).destroy();
  });

  /** The data field of a one-file body, decoded, when the file is read through `read`. */
  async function roundTrip(data: Buffer, read?: ReadFn): Promise<Buffer> {
    const p = path.join(tempDir(), 'f');
    writeFileSync(p, data);
    const body = createCloneBody(
      'n',
      [{ filename: 'f', source: { path: p }, size: data.length, contentType: 'audio/wav' }],
      read,
    );
    const bytes = await collect(body.open());
    expect(bytes.length).toBe(body.contentLength);
    const file = (JSON.parse(bytes.toString()) as { files: { data: string }[] }).files[0];
    expect(file?.data).toBe(data.toString('base64'));
    return Buffer.from(file?.data ?? '', 'base64');
  }

  it.each([1, 2, 3, 4, 5, 6, 7, 100])(
    'keeps 3-byte alignment when every read returns at most %i bytes',
    async (most) => {
      const data = randomBytes(1000);
      const short: ReadFn = (fd, buf, off, len) => readSync(fd, buf, off, Math.min(len, most), null);
      expect((await roundTrip(data, short)).equals(data)).toBe(true);
    },
  );

  it('keeps 3-byte alignment across random short reads of a file larger than a read', async () => {
    const data = randomBytes(3 * READ_CHUNK + 5);
    for (let trial = 0; trial < 5; trial++) {
      const short: ReadFn = (fd, buf, off, len) =>
        readSync(fd, buf, off, 1 + Math.floor(Math.random() * len), null);
      expect((await roundTrip(data, short)).equals(data)).toBe(true);
    }
  });

  it('fails the stream, rather than send fewer bytes than announced, when a spooled file shrank', async () => {
    const p = path.join(tempDir(), 'f');
    writeFileSync(p, randomBytes(2 * READ_CHUNK));
    const body = createCloneBody('n', [
      { filename: 'f', source: { path: p }, size: 2 * READ_CHUNK, contentType: 'audio/wav' },
    ]);
    truncateSync(p, READ_CHUNK + 1);
    await expect(collect(body.open())).rejects.toThrow(/shorter than when it was received/);
  });

  it('opens no file once destroyed, even with a read already scheduled (no descriptor leaks)', async () => {
    const p = path.join(tempDir(), 'f');
    writeFileSync(p, randomBytes(4 * READ_CHUNK));
    const body = createCloneBody('n', [
      { filename: 'f', source: { path: p }, size: 4 * READ_CHUNK, contentType: 'audio/wav' },
    ]);
    const openFds = () => readdirSync('/proc/self/fd').length;
    const tick = () => new Promise((r) => setImmediate(r));
    const before = openFds();
    for (let i = 0; i < 20; i++) {
      const stream = streamOf(body.open());
      stream.read(); // the first turn: the framing and the first piece of the file
      await tick();
      stream.read(); // schedules the next piece…
      stream.destroy(); // …and the consumer goes away before it runs
    }
    await tick();
    await tick();
    expect(openFds()).toBe(before);
  });

  it('never emits line breaks', async () => {
    const p = path.join(tempDir(), 'f');
    writeFileSync(p, randomBytes(100_000));
    const body = createCloneBody('n', [
      { filename: 'f', source: { path: p }, size: 100_000, contentType: 'audio/wav' },
    ]);
    expect((await collect(body.open())).includes('\n')).toBe(false);
  });

  it('base64Length is 4 * ceil(n / 3)', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map(base64Length)).toEqual([0, 4, 4, 4, 8, 8, 8]);
  });
});
