// Clone requests as tests send them: through supertest (postClone) or as FormData for fetch (cloneForm).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import request from 'supertest';
import { audio } from './fixtures.js';

/** The route every clone goes to. */
export const CLONE_PATH = '/api/voices/clone';

/**
 * A file for a clone: an audio fixture's name (`'sample.mp3'`), an absolute path, or bytes with a
 * filename; `field` is the form field (`files` unless said), `contentType` what the browser claims.
 */
export type CloneFile =
  | string
  | { path: string; field?: string; contentType?: string }
  | { data: Buffer; filename: string; field?: string; contentType?: string };

/** What a test sends to POST /api/voices/clone; `name: null` leaves the field out. */
export interface CloneRequest {
  name?: string | null;
  files?: CloneFile[];
  headers?: Record<string, string>;
  /** Other text fields, such as `consent`. */
  fields?: Record<string, string>;
}

const filePath = (f: string) => (path.isAbsolute(f) ? f : audio(f));

/**
 * `POST /api/voices/clone` through supertest to an app or a URL: the name, then the files (one
 * sample.mp3 unless said). Returns the request, so tests can `.set(...)` more and await it.
 */
export function postClone(
  target: Parameters<typeof request>[0],
  { name = 'Voice', files = ['sample.mp3'], headers = {}, fields = {} }: CloneRequest = {},
): request.Test {
  let req = request(target).post(CLONE_PATH).set(headers);
  if (name !== null) req = req.field('name', name);
  for (const [k, v] of Object.entries(fields)) req = req.field(k, v);
  for (const f of files) {
    if (typeof f === 'string') req = req.attach('files', filePath(f));
    else {
      const type = f.contentType ? { contentType: f.contentType } : {};
      if ('path' in f) req = req.attach(f.field ?? 'files', f.path, type);
      else req = req.attach(f.field ?? 'files', f.data, { filename: f.filename, ...type });
    }
  }
  return req;
}

/** The same clone as a FormData, for `fetch` (which can be aborted, and streams like a browser). */
export function cloneForm({
  name = 'Voice',
  files = ['sample.mp3'],
  fields = {},
}: CloneRequest = {}): FormData {
  const form = new FormData();
  if (name !== null) form.append('name', name);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  for (const f of files) {
    if (typeof f === 'string') form.append('files', new Blob([readFileSync(filePath(f))]), path.basename(f));
    else if ('path' in f)
      form.append(f.field ?? 'files', new Blob([readFileSync(f.path)]), path.basename(f.path));
    else form.append(f.field ?? 'files', new Blob([new Uint8Array(f.data)]), f.filename);
  }
  return form;
}
