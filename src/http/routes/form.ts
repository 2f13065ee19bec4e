import { readFileSync } from 'node:fs';
import path from 'node:path';
import express, { type Request, type Response, type Router } from 'express';
import type { PageSettings } from '../../api/page-settings.js';
import { ACCEPTED_AUDIO } from '../../audio/sniff.js';
import type { Config } from '../../config/config.js';
import { formatBytes } from '../../format-bytes.js';
import { NAME_MAX_CHARS } from '../../upload/validate-upload.js';

/** The built page and its script (dist/web: `npm run build` bundles src/web and copies its static files). */
export const DEFAULT_WEB_DIR = path.resolve(import.meta.dirname, '../../web');

/** Where the form is served from, and how often it polls a training voice. */
export interface FormOptions {
  webDir: string;
  pollMs: number;
}

/** JSON as an HTML attribute value (the page's script reads it from `data-settings`). */
const attributeJson = (value: unknown) =>
  JSON.stringify(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * `GET /` — the upload form, with the server's own limits written into it — and `/assets/*`, its
 * script and style.
 */
export function formRoutes(config: Config, options: FormOptions): Router {
  const router = express.Router();
  const { limits } = config;
  const settings: PageSettings = {
    maxFiles: limits.maxFiles,
    maxFileBytes: limits.maxFileBytes,
    maxTotalBytes: limits.maxTotalBytes,
    nameMaxChars: NAME_MAX_CHARS,
    minAudioSeconds: limits.minAudioSeconds,
    maxAudioSeconds: limits.maxAudioSeconds,
    requireConsent: config.requireConsent,
    pollMs: options.pollMs,
    accept: ACCEPTED_AUDIO,
  };
  const values: Record<string, string> = {
    SETTINGS: attributeJson(settings),
    MAX_FILES: String(limits.maxFiles),
    NAME_MAX_CHARS: String(NAME_MAX_CHARS),
    MAX_FILE_SIZE: formatBytes(limits.maxFileBytes),
    MAX_TOTAL_SIZE: formatBytes(limits.maxTotalBytes),
    ACCEPT_TEXT: ACCEPTED_AUDIO.join(', '),
    ACCEPT_ATTR: ['audio/*', ...ACCEPTED_AUDIO.map((e) => `.${e}`)].join(','),
  };
  let page: string | undefined;
  router.get('/', (_req: Request, res: Response) => {
    page ??= readFileSync(path.join(options.webDir, 'index.html'), 'utf8').replace(
      /\{\{(\w+)\}\}/g,
      (_m, key: string) => values[key] ?? '',
    );
    res.type('html').setHeader('Cache-Control', 'no-cache').send(page);
  });
  router.get('/favicon.ico', (_req: Request, res: Response) => {
    res.status(204).end();
  });
  router.use('/assets', express.static(options.webDir, { index: false, maxAge: 0 }));
  return router;
}
