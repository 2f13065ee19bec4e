import { readFileSync } from 'node:fs';
import path from 'node:path';
import express, { type Request, type Response, type Router } from 'express';
import type { Config } from '../../config/config.js';
import { ACCEPTED_AUDIO } from '../../upload/sniff.js';

/** The built page and its script (dist/web: `npm run build` compiles src/web and copies its static files). */
export const DEFAULT_WEB_DIR = path.resolve(import.meta.dirname, '../../web');

/** Sizes as the form's own script writes them (KB below 1 MB). */
const human = (n: number) =>
  n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`;

/**
 * `GET /` — the upload form, with the server's own limits written into it so the client-side checks
 * never disagree with the server — and `/assets/*`, its script and style.
 */
export function formRoutes(config: Config, webDir: string, pollMs: number): Router {
  const router = express.Router();
  let page: string | undefined;
  const values: Record<string, string> = {
    MAX_FILES: String(config.limits.maxFiles),
    MAX_FILE_BYTES: String(config.limits.maxFileBytes),
    MAX_TOTAL_BYTES: String(config.limits.maxTotalBytes),
    MAX_FILE_SIZE: human(config.limits.maxFileBytes),
    MAX_TOTAL_SIZE: human(config.limits.maxTotalBytes),
    POLL_MS: String(pollMs),
    ACCEPT: ACCEPTED_AUDIO.join(','),
    ACCEPT_TEXT: ACCEPTED_AUDIO.join(', '),
    ACCEPT_ATTR: ['audio/*', ...ACCEPTED_AUDIO.map((e) => `.${e}`)].join(','),
  };
  router.get('/', (_req: Request, res: Response) => {
    page ??= readFileSync(path.join(webDir, 'index.html'), 'utf8').replace(
      /\{\{(\w+)\}\}/g,
      (_m, key: string) => values[key] ?? '',
    );
    res.type('html').setHeader('Cache-Control', 'no-cache').send(page);
  });
  router.get('/favicon.ico', (_req: Request, res: Response) => {
    res.status(204).end();
  });
  router.use('/assets', express.static(webDir, { index: false, maxAge: 0 }));
  return router;
}
