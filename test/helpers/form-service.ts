// The service as the form's browser tests run it: built on the kit, listening on a port of its own.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { buildService, listen, type Running, testConfig } from './kit.js';

/** A listening service for the form: its URL, every request that reached it ("METHOD /path"), the clones among them. */
export type FormService = Running & { hits: string[]; clones(): string[] };

/**
 * The service with `env` in front of `upstream` (a fake or the sandbox), on 127.0.0.1; `options`
 * as buildService takes them (the form's poll interval, the upstream's name).
 */
export async function startFormService(
  upstream: string,
  env: Record<string, string> = {},
  options: Parameters<typeof buildService>[2] = {},
): Promise<FormService> {
  const built = buildService(testConfig(env), upstream, options);
  const hits: string[] = [];
  const running = await listen((req: IncomingMessage, res: ServerResponse) => {
    hits.push(`${req.method} ${req.url}`);
    built.app(req, res);
  });
  return {
    ...running,
    hits,
    clones: () => hits.filter((h) => h.startsWith('POST /api/')),
    close: async () => {
      await running.close();
      await built.close();
    },
  };
}
