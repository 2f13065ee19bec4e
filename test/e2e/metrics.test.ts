import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { audio } from '../helpers/kit.js';
import { type ServiceProcess, startServiceProcess } from '../helpers/process.js';

/** The families SPEC "Other routes" names for GET /metrics, and their Prometheus types. */
const FAMILIES = {
  http_requests_total: 'counter',
  upstream_attempts_total: 'counter',
  upstream_retry_wait_seconds: 'histogram',
  upload_bytes_total: 'counter',
  upstream_request_duration_seconds: 'histogram',
} as const;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text exposition, the sample lines only (what a scraper stores). */
function parse(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type?.[1] && type[2]) types.set(type[1], type[2]);
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m?.[1] || !m[3]) continue;
    const labels = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return { types, samples };
}

function family(samples: Sample[], name: string): Sample[] {
  return samples.filter((s) => s.name === name || s.name.startsWith(`${name}_`));
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const matches = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return matches.length === 1 ? matches[0]?.value : undefined;
}

const scrape = async (svc: ServiceProcess) => parse(await (await fetch(`${svc.url}/metrics`)).text());

describe('GET /metrics on a fresh process (SPEC "Operations": every family from the first scrape)', () => {
  let svc: ServiceProcess;
  beforeAll(async () => {
    svc = await startServiceProcess({ NODE_ENV: 'development' });
  });
  afterAll(async () => {
    await svc.stop();
  });

  it('the first scrape shows every family SPEC names, each with its known series at zero', async () => {
    const { types, samples } = await scrape(svc);
    for (const [name, type] of Object.entries(FAMILIES)) {
      expect({ name, type: types.get(name) }).toEqual({ name, type });
      const own = family(samples, name);
      expect({ name, series: own.length > 0 }).toEqual({ name, series: true });
      expect({ name, nonZero: own.filter((s) => s.value !== 0) }).toEqual({ name, nonZero: [] });
    }
    expect(value(samples, 'upload_bytes_total')).toBe(0);
    for (const [operation, success] of [
      ['clone', '201'],
      ['get', '200'],
    ] as const) {
      for (const outcome of [success, '429', '500', '503', 'timeout', 'connect_failed', 'network', 'unsent'])
        expect({ outcome, v: value(samples, 'upstream_attempts_total', { operation, outcome }) }).toEqual({
          outcome,
          v: 0,
        });
      for (const histogram of ['upstream_request_duration_seconds', 'upstream_retry_wait_seconds']) {
        expect(value(samples, `${histogram}_count`, { operation })).toBe(0);
        expect(value(samples, `${histogram}_sum`, { operation })).toBe(0);
        expect(value(samples, `${histogram}_bucket`, { operation, le: '+Inf' })).toBe(0);
      }
    }
    expect(value(samples, 'upstream_attempts_total', { operation: 'clone', outcome: '402' })).toBe(0);
    expect(
      value(samples, 'http_requests_total', { method: 'POST', route: '/api/voices/clone', status: '201' }),
    ).toBe(0);
    expect(
      value(samples, 'http_requests_total', { method: 'GET', route: '/api/voices/:id', status: '200' }),
    ).toBe(0);
  });

  it('the zeroed series are the ones real traffic counts in: a clone moves them from 0 to 1, adds none', async () => {
    const before = await scrape(svc);
    const form = new FormData();
    form.append('name', 'Metered');
    form.append('files', new Blob([readFileSync(audio('sample.mp3'))]), 'sample.mp3');
    const res = await fetch(`${svc.url}/api/voices/clone`, { method: 'POST', body: form });
    expect(res.status).toBe(201);
    const voice = ((await res.json()) as { data: { id: string } }).data;
    expect((await fetch(`${svc.url}/api/voices/${encodeURIComponent(voice.id)}`)).status).toBe(200);
    const after = await scrape(svc);

    const clone = { operation: 'clone', outcome: '201' };
    const get = { operation: 'get', outcome: '200' };
    expect(value(after.samples, 'upstream_attempts_total', clone)).toBe(1);
    expect(value(after.samples, 'upstream_attempts_total', get)).toBe(1);
    expect(value(after.samples, 'upstream_request_duration_seconds_count', { operation: 'clone' })).toBe(1);
    expect(
      value(after.samples, 'http_requests_total', {
        method: 'POST',
        route: '/api/voices/clone',
        status: '201',
      }),
    ).toBe(1);
    expect(
      value(after.samples, 'http_requests_total', { method: 'GET', route: '/api/voices/:id', status: '200' }),
    ).toBe(1);
    expect(value(after.samples, 'upload_bytes_total')).toBeGreaterThan(0);
    const attemptSeries = (s: Sample[]) =>
      family(s, 'upstream_attempts_total').map((x) => JSON.stringify(x.labels));
    expect(attemptSeries(after.samples).sort()).toEqual(attemptSeries(before.samples).sort());
  });
});
