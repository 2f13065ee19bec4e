import { randomBytes } from 'node:crypto';

/** One part of a hand-built multipart body. */
export type Part =
  | { field: string; value: string }
  | {
      field: string;
      filename: string;
      data: Buffer;
      contentType?: string;
      encodeFilename?: 'raw' | 'rfc5987';
    };

/**
 * Builds a multipart/form-data body byte by byte, so tests control exactly what reaches the
 * parser: raw UTF-8 filenames as browsers send them, RFC 5987 `filename*`, truncation.
 */
export function multipart(parts: Part[]): { body: Buffer; contentType: string } {
  const boundary = `----bfftest${randomBytes(8).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.field}"`;
    if ('filename' in p) {
      head +=
        p.encodeFilename === 'rfc5987'
          ? `; filename*=UTF-8''${encodeURIComponent(p.filename).replace(/'/g, '%27')}`
          : `; filename="${p.filename.replace(/"/g, '%22')}"`;
      head += `\r\nContent-Type: ${p.contentType ?? 'application/octet-stream'}`;
    }
    chunks.push(
      Buffer.from(`${head}\r\n\r\n`),
      'data' in p ? p.data : Buffer.from(p.value),
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
