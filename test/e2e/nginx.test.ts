import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { audio, tempDir, waitUntil } from '../helpers/kit.js';
import { canConnect, freePort } from '../helpers/net.js';
import { type ServiceProcess, startServiceProcess } from '../helpers/process.js';

/** The file docker-compose mounts as nginx's conf.d/default.conf: the test runs exactly this one. */
const CONF = path.resolve(import.meta.dirname, '../../deploy/nginx.conf');
/** Debian's nginx-light, found on PATH as scripts/provision.sh finds it (npm test provisions it). */
const NGINX = process.env.NGINX_PATH ?? 'nginx';

interface Nginx {
  url: string;
  /** What nginx logged (error_log stderr). */
  log(): string;
  /**
   * Resolves with the log once it matches `pattern`. nginx's stderr is a pipe of its own: a line
   * written before an answer can still reach this process after the answer's bytes do.
   */
  waitForLog(pattern: RegExp): Promise<string>;
  stop(): Promise<void>;
}

/** Replaces the one occurrence of `from` in the config: a change to deploy/nginx.conf fails loudly here. */
function substitute(text: string, from: string | RegExp, to: string): string {
  const count =
    typeof from === 'string'
      ? text.split(from).length - 1
      : (text.match(new RegExp(from, 'gm')) ?? []).length;
  if (count !== 1) throw new Error(`deploy/nginx.conf: expected one ${String(from)}, found ${count}`);
  return text.replace(from, to);
}

/**
 * Runs real nginx in the foreground, everything (pid, temp files) in a folder of its own, with
 * deploy/nginx.conf included as docker-compose includes it (inside `http {}`), adapted only in its
 * upstream addresses, its listen port and, when asked, proxy_read_timeout.
 */
async function startNginx(upstreams: string[], options: { readTimeout?: string } = {}): Promise<Nginx> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bff-nginx-'));
  const port = await freePort();
  let site = readFileSync(CONF, 'utf8');
  site = substitute(
    site,
    /^ {2}server bff-1:3000;\n {2}server bff-2:3000;$/m,
    upstreams.map((u) => `  server ${u};`).join('\n'),
  );
  site = substitute(site, 'listen 8080;', `listen 127.0.0.1:${port};`);
  if (options.readTimeout)
    site = substitute(site, 'proxy_read_timeout 180s;', `proxy_read_timeout ${options.readTimeout};`);
  writeFileSync(path.join(dir, 'default.conf'), site);
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `  ${t}_temp_path ${dir}/${t};`)
    .join('\n');
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    [
      'daemon off;',
      'master_process off;',
      `pid ${dir}/nginx.pid;`,
      'error_log stderr notice;',
      'events { worker_connections 64; }',
      'http {',
      '  access_log off;',
      temp,
      `  include ${dir}/default.conf;`,
      '}',
      '',
    ].join('\n'),
  );
  const proc: ChildProcess = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', 'stderr'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr?.on('data', (c: Buffer) => {
    log += String(c);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  let spawnFailed = false;
  proc.once('error', (e) => {
    spawnFailed = true;
    log += `${NGINX}: ${e.message} (scripts/provision.sh installs nginx-light)`;
  });
  const deadline = Date.now() + 5000;
  while (!(await canConnect(port))) {
    if (spawnFailed || proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`nginx did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    log: () => log,
    waitForLog: async (pattern) => {
      await waitUntil(`nginx to log ${pattern}`, () => pattern.test(log));
      return log;
    },
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The body and the headers that matter of one answer. */
interface Answer {
  status: number;
  type: string | undefined;
  requestId: string | undefined;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown> & {
    error?: { code: string; message: string; details?: unknown };
    meta?: { request_id: string; ts: string };
  };
}

/**
 * One request with node:http (not fetch, which refuses to read an answer that comes before its
 * body is sent). `body` may be a generator of chunks (sent chunked) and stops at the answer.
 */
function send(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: Buffer | (() => Iterable<Buffer>);
  } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', headers: options.headers });
    let answered = false;
    req.once('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: Answer['body'];
        try {
          body = JSON.parse(text) as Answer['body'];
        } catch {
          return reject(new Error(`not JSON (${res.statusCode}): ${text.slice(0, 200)}`));
        }
        resolve({
          status: res.statusCode ?? 0,
          type: res.headers['content-type'],
          requestId: res.headers['x-request-id'] as string | undefined,
          headers: res.headers,
          body,
        });
        req.destroy();
      });
    });
    // nginx may answer and close while the body is still going out: the answer is what counts.
    req.on('error', (e) => {
      if (!answered) reject(e);
    });
    const body = options.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else
      void (async () => {
        for (const chunk of body()) {
          if (answered || req.destroyed) return;
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
        }
        req.end();
      })().catch(() => undefined);
  });
}

/** A multipart clone upload, built by the platform's FormData. */
async function cloneForm(
  name: string,
  files = 1,
): Promise<{ body: Buffer; headers: Record<string, string> }> {
  const form = new FormData();
  form.append('name', name);
  for (let i = 0; i < files; i++)
    form.append('files', new Blob([readFileSync(audio('sample.mp3'))]), `sample-${i}.mp3`);
  const r = new Response(form);
  return {
    body: Buffer.from(await r.arrayBuffer()),
    headers: { 'content-type': r.headers.get('content-type') ?? '' },
  };
}

/** nginx's client_max_body_size in bytes, read from the file itself. */
function clientMaxBodySize(): number {
  const m = /^\s*client_max_body_size (\d+)([km]?);$/m.exec(readFileSync(CONF, 'utf8'));
  if (!m?.[1]) throw new Error('deploy/nginx.conf: no client_max_body_size');
  return Number(m[1]) * { '': 1, k: 1024, m: 1024 ** 2 }[m[2] as '' | 'k' | 'm'];
}

/** What SPEC's envelope looks like when nginx wrote it: the id is nginx's $request_id, also in X-Request-Id. */
function expectNginxEnvelope(a: Answer, status: number, code: string) {
  expect({ status: a.status, type: a.type, code: a.body.error?.code }).toEqual({
    status,
    type: 'application/json',
    code,
  });
  expect(typeof a.body.error?.message).toBe('string');
  expect(a.body.meta?.request_id).toMatch(/^[0-9a-f]{32}$/);
  expect(a.requestId).toBe(a.body.meta?.request_id);
  expect(Number.isNaN(Date.parse(a.body.meta?.ts ?? ''))).toBe(false);
}

describe('deploy/nginx.conf in front of two instances (SPEC "Errors": every answer JSON, also nginx\'s own)', () => {
  let one: ServiceProcess;
  let two: ServiceProcess;
  let lb: Nginx;
  const hostPort = (s: ServiceProcess) => new URL(s.url).host;

  beforeAll(async () => {
    const env = {
      NODE_ENV: 'development',
      TRUST_PROXY: '1',
      RATE_LIMIT_MAX: '1000',
      MAX_FILES: '1',
      // Above nginx's limit, so that the chunked upload below meets nginx's limit, not the service's.
      MAX_FILE_BYTES: String(100 * 2 ** 20),
      MAX_TOTAL_BYTES: String(100 * 2 ** 20),
    };
    [one, two] = await Promise.all([
      startServiceProcess({ ...env, UPLOAD_DIR: tempDir() }),
      startServiceProcess({ ...env, UPLOAD_DIR: tempDir() }),
    ]);
    lb = await startNginx([hostPort(one), hostPort(two)]);
  });
  afterAll(async () => {
    await lb?.stop();
    await Promise.all([one?.stop(), two?.stop()]);
  });

  it("a clone through nginx: the service's 201, carrying the request id nginx gave it", async () => {
    const form = await cloneForm('Through nginx');
    const a = await send(`${lb.url}/api/voices/clone`, { method: 'POST', ...form });
    expect(a.status).toBe(201);
    expect((a.body.data as { name: string }).name).toBe('Through nginx');
    expect(a.requestId).toMatch(/^[0-9a-f]{32}$/);
    expect(a.body.meta?.request_id).toBe(a.requestId);
  });

  it("the service's own 413 and 502 pass through untouched (nginx rewrites only what it generates)", async () => {
    const tooMany = await cloneForm('Two files', 2);
    const a413 = await send(`${lb.url}/api/voices/clone`, { method: 'POST', ...tooMany });
    expect(a413.status).toBe(413);
    expect(a413.body.error?.details).toMatchObject({ limit: 'MAX_FILES', value: 1 });
    // The sandbox answers 500 for this name; the service turns it into its own 502 upstream_error.
    const failing = await cloneForm('Broken [server-error]');
    const a502 = await send(`${lb.url}/api/voices/clone`, { method: 'POST', ...failing });
    expect({ status: a502.status, code: a502.body.error?.code }).toEqual({
      status: 502,
      code: 'upstream_error',
    });
    expect(a502.headers['x-upstream-attempts']).toBe('1');
  });

  it("an upload whose Content-Length is over client_max_body_size: nginx's 413 as the envelope", async () => {
    const a = await send(`${lb.url}/api/voices/clone`, {
      method: 'POST',
      headers: {
        'content-type': 'multipart/form-data; boundary=x',
        'content-length': String(clientMaxBodySize() + 1),
      },
      body: () => [Buffer.from('--x\r\n')],
    });
    expectNginxEnvelope(a, 413, 'payload_too_large');
    expect(a.body.error?.details).toEqual({ limit: 'client_max_body_size', value: clientMaxBodySize() });
  });

  it('a chunked upload that grows past client_max_body_size: the same JSON 413, mid-stream', async () => {
    const boundary = 'chunkedboundary';
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nBig\r\n--${boundary}\r\n` +
        'Content-Disposition: form-data; name="files"; filename="big.mp3"\r\nContent-Type: audio/mpeg\r\n\r\n',
    );
    const mp3 = readFileSync(audio('sample.mp3'));
    const filler = Buffer.alloc(1024 * 1024);
    const limit = clientMaxBodySize();
    const a = await send(`${lb.url}/api/voices/clone`, {
      method: 'POST',
      headers: {
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'transfer-encoding': 'chunked',
      },
      body: function* () {
        yield head;
        yield mp3;
        for (let sent = head.length + mp3.length; sent <= limit + filler.length; sent += filler.length)
          yield filler;
      },
    });
    expectNginxEnvelope(a, 413, 'payload_too_large');
    await lb.waitForLog(/client intended to send too large chunked body/);
  });

  it("nginx's own 400, 414 and 404 (a request it refuses before any instance sees it) are the envelope too", async () => {
    // Over large_client_header_buffers (4 x 8k): the request line (414) or one header (400).
    expectNginxEnvelope(await send(`${lb.url}/api/voices/${'a'.repeat(9000)}`), 414, 'invalid_request');
    expectNginxEnvelope(
      await send(`${lb.url}/healthz`, { headers: { cookie: 'a'.repeat(9000) } }),
      400,
      'invalid_request',
    );
    expectNginxEnvelope(await send(`${lb.url}/.nginx/errors/413`), 404, 'not_found');
  });

  it('one instance stopped: requests that never reached it go to the other, a clone included', async () => {
    const stopped = hostPort(one);
    expect(await one.stop()).toBe(0);
    // Round-robin sends one of any two requests to the stopped instance first.
    for (const name of ['After stop A', 'After stop B']) {
      const a = await send(`${lb.url}/api/voices/clone`, { method: 'POST', ...(await cloneForm(name)) });
      expect({ status: a.status, name: (a.body.data as { name?: string } | undefined)?.name }).toEqual({
        status: 201,
        name,
      });
    }
    expect((await send(`${lb.url}/healthz`)).status).toBe(200);
    await lb.waitForLog(
      new RegExp(
        `connect\\(\\) failed \\(111: Connection refused\\).*upstream: "http://${stopped}/api/voices/clone"`,
      ),
    );
  });

  it("both instances stopped: nginx's 502 as the envelope", async () => {
    expect(await two.stop()).toBe(0);
    const a = await send(`${lb.url}/api/voices/clone`, {
      method: 'POST',
      ...(await cloneForm('Nobody home')),
    });
    expectNginxEnvelope(a, 502, 'upstream_unavailable');
    expectNginxEnvelope(await send(`${lb.url}/api/voices/some-id`), 502, 'upstream_unavailable');
  });
});

describe('deploy/nginx.conf when an instance takes the request and never answers', () => {
  const sockets = new Set<Socket>();
  let hanging: Server;
  let other: ReturnType<typeof createHttpServer>;
  const reachedOther: string[] = [];
  let lb: Nginx;

  beforeAll(async () => {
    // Reads whatever comes and never answers: an instance stuck past proxy_read_timeout.
    hanging = createNetServer((s) => {
      sockets.add(s);
      s.on('data', () => undefined);
      s.once('close', () => sockets.delete(s));
    });
    other = createHttpServer((req, res) => {
      reachedOther.push(`${req.method} ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"reached":"other"}');
    });
    await Promise.all([
      new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r)),
      new Promise<void>((r) => other.listen(0, '127.0.0.1', r)),
    ]);
    const address = (s: Server) => `127.0.0.1:${(s.address() as { port: number }).port}`;
    // nginx's round-robin gives a fresh upstream's first request to its first server: `hanging`.
    lb = await startNginx([address(hanging), address(other)], { readTimeout: '1s' });
  });
  afterAll(async () => {
    await lb?.stop();
    for (const s of sockets) s.destroy();
    await Promise.all([
      new Promise((r) => hanging.close(r)),
      new Promise((r) => {
        other.closeAllConnections();
        other.close(r);
      }),
    ]);
  });

  it("past proxy_read_timeout: nginx's 504 as the envelope, and a POST it sent is never sent again", async () => {
    const a = await send(`${lb.url}/api/voices/clone`, { method: 'POST', ...(await cloneForm('Hangs')) });
    expectNginxEnvelope(a, 504, 'upstream_timeout');
    expect(reachedOther).toEqual([]);
    await lb.waitForLog(/upstream timed out/);
  });
});

describe('deploy/nginx.conf error pages', () => {
  const conf = readFileSync(CONF, 'utf8');
  const pages = new Map(
    [...conf.matchAll(/^\s*error_page ([\d ]+) (\S+);$/gm)].flatMap((m) =>
      (m[1] ?? '').split(' ').map((status) => [Number(status), m[2] ?? ''] as const),
    ),
  );

  it("cover every error nginx answers itself, and never intercept the service's answers", () => {
    expect([...pages.keys()].sort()).toEqual([400, 404, 408, 413, 414, 494, 500, 502, 503, 504]);
    expect(conf).not.toMatch(/^\s*proxy_intercept_errors on/m);
    expect(conf).not.toMatch(/^\s*proxy_next_upstream[^;]*non_idempotent/m);
  });

  // What no test here makes nginx produce (its 408 after client_body_timeout, a 500, a 503) is
  // checked on the file: each page is SPEC's envelope, as JSON, with X-Request-Id.
  it.each([
    [400, 400, 'invalid_request'],
    [404, 404, 'not_found'],
    [408, 408, 'invalid_request'],
    [413, 413, 'payload_too_large'],
    [414, 400, 'invalid_request'],
    [494, 400, 'invalid_request'],
    [500, 500, 'internal_error'],
    [502, 502, 'upstream_unavailable'],
    [503, 503, 'upstream_unavailable'],
    [504, 504, 'upstream_timeout'],
  ])("nginx's %i: an internal page returning %i, SPEC's envelope with code %s", (status, returned, code) => {
    const uri = pages.get(status);
    // The block runs to its closing brace at the server's indent (the JSON inside has braces too).
    const block = conf.split(`location = ${uri} {`)[1]?.split('\n  }')[0] ?? '';
    expect(block).toMatch(/^\s*internal;$/m);
    expect(block).toMatch(/^\s*default_type application\/json;$/m);
    expect(block).toMatch(/^\s*add_header X-Request-Id \$request_id always;$/m);
    const ret = new RegExp(`^\\s*return ${returned} '(.*)';$`, 'm').exec(block)?.[1];
    const body = JSON.parse(
      (ret ?? '')
        .replace('$request_id', '0123456789abcdef0123456789abcdef')
        .replace('$time_iso8601', '2026-01-01T00:00:00+00:00'),
    ) as Answer['body'];
    expect(Object.keys(body).sort()).toEqual(['error', 'meta']);
    expect(body.error?.code).toBe(code);
    expect(body.meta).toEqual({
      request_id: '0123456789abcdef0123456789abcdef',
      ts: '2026-01-01T00:00:00+00:00',
    });
  });
});
