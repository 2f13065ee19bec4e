// `npm run bench`: drives the built service, a minimal buffering variant and the fake upstream directly,
// all as separate processes on 127.0.0.1, and prints one table with the ratios the project's goals name.
// Bounded: a fixed number of requests per scenario and a hard overall time limit.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '..');
const MiB = 1024 * 1024;
const CLIENTS = 16;
const FILES = 3;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SMALL_REQUESTS = 200;
const SMALL_CONCURRENCY = 32;
const SMALL_ROUNDS = 5;
/**
 * Unmeasured rounds before the small-upload rounds. With --trace-opt, V8 still optimizes about 140
 * request-path functions per 500 uploads after the first 1000 and about 25 after 3000: 15 rounds
 * (3000 uploads) measure the steady state a long-running service is in.
 */
const SMALL_WARMUP_ROUNDS = 15;
const HARD_LIMIT_MS = 10 * 60_000;
const KEY = 'bench_key_0123456789';

setTimeout(() => {
  console.error('bench: hard time limit reached, stopping');
  process.exit(2);
}, HARD_LIMIT_MS).unref();

const SCRIPTS = {
  streaming: path.join(ROOT, 'dist/main.js'),
  buffering: path.join(ROOT, 'bench/buffering-bff.mjs'),
  floor: path.join(ROOT, 'bench/relay-floor.mjs'),
  stack: path.join(ROOT, 'bench/stack-floor.mjs'),
  oversized: path.join(ROOT, 'bench/oversized-upstream.mjs'),
};

const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

// The service runs with the Node flags `npm start` gives it, so the figures are those of the service
// as deployed (the Docker image's differ only in Node 24's young generation; a test keeps them so).
const START_FLAGS = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
  .scripts.start.split(/\s+/)
  .filter((a) => a.startsWith('--'));

/** Starts a node script and resolves with what it prints first (a port or a listening line). */
function start(script, env = {}) {
  const flags = script === SCRIPTS.streaming ? START_FLAGS : [];
  const proc = spawn(process.execPath, [...flags, script], {
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.add(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (c) => {
      if (out === null) return keepProblems(proc, c); // started: the rest of its output is read and dropped
      out += c;
      const port = /^(\d+)\n/.exec(out)?.[1];
      const url = /"url":"(http:\/\/[^"]+)"[^\n]*listening|listening[^\n]*"url":"(http:\/\/[^"]+)"/.exec(out);
      if (port) resolve({ proc, url: `http://127.0.0.1:${port}` });
      else if (url) resolve({ proc, url: url[1] ?? url[2] });
      if (port || url) out = null;
    });
    proc.once('exit', (code) => reject(new Error(`${script} exited ${code}`)));
  });
}

/** A started process's last log lines at warn or above (pino levels 40+), shown if the bench fails. */
const problems = new Map();

function keepProblems(proc, chunk) {
  const kept = problems.get(proc) ?? [];
  for (const line of String(chunk).split('\n')) {
    if (/"level":(4|5|6)\d/.test(line)) kept.push(line.slice(0, 500));
  }
  problems.set(proc, kept.slice(-10));
}

/** A failed request's error, naming what was asked of whom (several processes take part). */
function requestError(error, method, url, req) {
  const socket = req.reusedSocket ? ', on a reused keep-alive socket' : '';
  return new Error(`${error.message} (${method} ${url}${socket})`, { cause: error });
}

async function stop(p) {
  children.delete(p.proc);
  p.proc.kill('SIGTERM');
  await new Promise((r) => p.proc.once('exit', r));
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** [busy, total, steal] jiffies of the whole machine, all cores. */
function machineJiffies() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return [total - (f[3] ?? 0) - (f[4] ?? 0), total, f[7] ?? 0];
}

/** The share of the machine's CPU time that was busy between two readings of machineJiffies. */
function busyShare([busy0, total0], [busy1, total1]) {
  return (busy1 - busy0) / (total1 - total0);
}

/**
 * The share of the machine's CPU time the hypervisor gave to other guests (steal) between two
 * readings of machineJiffies: on a shared host the figures swing with it, so every table says it.
 */
function stealShare([, total0, steal0], [, total1, steal1]) {
  return total1 > total0 ? (steal1 - steal0) / (total1 - total0) : 0;
}

/** Steal over the whole bench run, printed last. */
const RUN_START = machineJiffies();

/** A share as a whole percentage. */
const pctOf = (x) => `${(100 * x).toFixed(0)}%`;

function vmHWM(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

/**
 * One request through the bench's keep-alive agent: its status and milliseconds. A pooled socket
 * the server closed as it idled (keepAliveTimeout) just as this request took it is Node's
 * documented race: retried once on a fresh socket, as browsers do. It shows as ECONNRESET, or as
 * EPIPE when the close lands while a large body is being written.
 */
const REUSED_SOCKET_RACE = new Set(['ECONNRESET', 'EPIPE']);

function exchange(method, url, headers, body, retried = false) {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0 }));
    });
    req.on('error', (error) => {
      if (!retried && req.reusedSocket && REUSED_SOCKET_RACE.has(error.code)) {
        resolve(exchange(method, url, headers, body, true));
      } else reject(requestError(error, method, url, req));
    });
    req.end(body);
  });
}

function post(url, body, headers) {
  return exchange('POST', url, { ...headers, 'content-length': body.length }, body);
}

/** A GET's milliseconds. */
async function get(url) {
  return (await exchange('GET', url, {})).ms;
}

/** The spoken sample's PCM samples, repeated to fill bench files (test/fixtures/audio/sample.wav). */
const SPEECH = (() => {
  const sample = readFileSync(path.join(ROOT, 'test/fixtures/audio/sample.wav'));
  const at = sample.indexOf('data');
  return sample.subarray(at + 8, at + 8 + sample.readUInt32LE(at + 4));
})();

/**
 * A WAV file of `size` bytes that is real audio: a 16 kHz mono PCM header and the spoken sample
 * repeated. The service reads every file's audio before sending it (random samples would be
 * refused as invalid_audio), so the bench pays what a user's upload costs.
 */
function wav(size) {
  const out = Buffer.alloc(size);
  out.write('RIFF', 0);
  out.writeUInt32LE(size - 8, 4);
  out.write('WAVEfmt ', 8);
  out.writeUInt32LE(16, 16);
  out.writeUInt16LE(1, 20);
  out.writeUInt16LE(1, 22);
  out.writeUInt32LE(16000, 24);
  out.writeUInt32LE(32000, 28);
  out.writeUInt16LE(2, 32);
  out.writeUInt16LE(16, 34);
  out.write('data', 36);
  const dataBytes = (size - 44) & ~1;
  out.writeUInt32LE(dataBytes, 40);
  for (let o = 44; o < 44 + dataBytes; o += SPEECH.length)
    SPEECH.copy(out, o, 0, Math.min(SPEECH.length, 44 + dataBytes - o));
  return out;
}

function multipartBody(files) {
  const boundary = `----bench${randomBytes(6).toString('hex')}`;
  const parts = [
    Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\nbench\r\n`),
  ];
  files.forEach((f, i) => {
    parts.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="files"; filename="f${i}.wav"\r\nContent-Type: audio/wav\r\n\r\n`,
      ),
      f,
      Buffer.from('\r\n'),
    );
  });
  parts.push(Buffer.from(`--${boundary}--\r\n`));
  return {
    body: Buffer.concat(parts),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  };
}

function jsonBody(files) {
  const json = JSON.stringify({
    name: 'bench',
    files: files.map((f, i) => ({
      filename: `f${i}.wav`,
      data: f.toString('base64'),
      content_type: 'audio/wav',
    })),
  });
  return {
    body: Buffer.from(json),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

/** ROUNDS rounds of CLIENTS concurrent posts; returns per-request latencies. */
async function heavyLoad(url, payload, rounds = ROUNDS) {
  const latencies = [];
  for (let r = 0; r < rounds; r++) {
    const results = await Promise.all(
      Array.from({ length: CLIENTS }, () => post(url, payload.body, payload.headers)),
    );
    for (const x of results) {
      if (x.status !== 201) throw new Error(`unexpected status ${x.status} from ${url}`);
      latencies.push(x.ms);
    }
  }
  return latencies;
}

async function smallLoad(url, payload) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: SMALL_CONCURRENCY }, async () => {
      while (next < SMALL_REQUESTS) {
        next++;
        const r = await post(url, payload.body, payload.headers);
        if (r.status !== 201) throw new Error(`unexpected status ${r.status}`);
      }
    }),
  );
  return performance.now() - t0;
}

function serviceEnv(fakeUrl, fileBytes) {
  return {
    NODE_ENV: 'production',
    TRUEDY_API_KEY: KEY,
    TRUEDY_BASE_URL: fakeUrl,
    PORT: '0',
    LOG_LEVEL: 'info',
    MAX_FILE_BYTES: String(fileBytes + MiB),
    MAX_TOTAL_BYTES: String(FILES * (fileBytes + MiB)),
    RATE_LIMIT_MAX: '100000',
    UPSTREAM_RATE_LIMIT_PER_MINUTE: '0',
  };
}

/** One heavy scenario against a fresh service process: latencies, healthz p99 and peak RSS. */
async function heavy(kind, fakeUrl, fileBytes) {
  const files = Array.from({ length: FILES }, () => wav(fileBytes));
  const payload = multipartBody(files);
  const svc = await start(SCRIPTS[kind], {
    ...serviceEnv(fakeUrl, fileBytes),
    RELAY_BODY_BYTES: String(jsonBody(files).body.length),
  });
  /** Any failure of the scenario (warm-up, load or /healthz poll), named by variant and size. */
  const failed = (error) => {
    throw new Error(`${kind}, ${fileBytes / MiB} MiB files: ${error.message}`, { cause: error });
  };
  // Measured warm: one unmeasured round first, so V8's optimizing compiler has done its work
  // (peak RSS still covers it: VmHWM is the whole process life).
  await heavyLoad(`${svc.url}/api/voices/clone`, payload, 1).catch(failed);
  const cpu0 = cpuSeconds(svc.proc.pid);
  const start0 = machineJiffies();
  const health = [];
  let polling = true;
  // A failed poll is kept and reported once the load is over: left unhandled until then, its
  // rejection would end the bench at once, named by nothing.
  let pollError;
  const poller = (async () => {
    while (polling) {
      health.push(await get(`${svc.url}/healthz`));
      await new Promise((r) => setTimeout(r, 10));
    }
  })().catch((error) => {
    pollError = error;
  });
  const latencies = await heavyLoad(`${svc.url}/api/voices/clone`, payload).catch(failed);
  polling = false;
  await poller;
  if (pollError) failed(pollError);
  const rss = vmHWM(svc.proc.pid);
  const cpuPerRound = (cpuSeconds(svc.proc.pid) - cpu0) / ROUNDS;
  const end = machineJiffies();
  await stop(svc);
  return { latencies, rss: [rss], health, cpuPerRound, busy: busyShare(start0, end) };
}

/**
 * The heavy scenarios (the service's and the buffering variant's) run in PROCESSES fresh
 * processes: one process's peak RSS moves by about ±8 MiB from run to run (V8's optimizing
 * compiler allocates in bursts), so the goals use the median peak, and the table shows the range;
 * the latencies of all of them are pooled.
 */
const PROCESSES = 3;

/** A scenario run PROCESSES times, one fresh process after another: each run's result. */
async function inFreshProcesses(scenario) {
  const runs = [];
  for (let i = 0; i < PROCESSES; i++) runs.push(await scenario());
  return runs;
}

/** The mean of one numeric field over the runs. */
const meanOf = (runs, key) => runs.reduce((n, r) => n + r[key], 0) / runs.length;

async function heavyRepeated(kind, fakeUrl, fileBytes) {
  const runs = await inFreshProcesses(() => heavy(kind, fakeUrl, fileBytes));
  return {
    latencies: runs.flatMap((r) => r.latencies),
    rss: runs.flatMap((r) => r.rss),
    health: runs.flatMap((r) => r.health),
    cpuPerRound: meanOf(runs, 'cpuPerRound'),
    busy: meanOf(runs, 'busy'),
  };
}

/**
 * What tracing costs the request path: the streaming service with tracing on (exporting over OTLP/HTTP
 * to a bench-only sink, batch settings at the SDK's defaults) and off, side by side on the small
 * uploads, where a per-request cost shows most. Compared like the small-upload rows (see
 * sideBySide): medians of time and server CPU over every pair's timed rounds.
 */
async function tracingCost(fakeUrl) {
  const sink = await start(path.join(ROOT, 'bench/otlp-sink.mjs'));
  const small = multipartBody([wav(200 * 1024)]);
  const base = serviceEnv(fakeUrl, 200 * 1024);
  const envs = { off: base, on: { ...base, OTEL_EXPORTER_OTLP_ENDPOINT: sink.url } };
  const time = { off: [], on: [] };
  const cpu = { off: [], on: [] };
  await sideBySide(
    ['off', 'on'],
    (kind) => start(SCRIPTS.streaming, envs[kind]),
    async (services, order) => {
      await warmTogether(services, order, small, SMALL_ROUNDS);
      await timedRounds(services, order, small, time, cpu);
    },
  );
  // sideBySide stopped the services with SIGTERM, which flushes the traced one's last spans to the
  // sink before its counts are read.
  const exported = await new Promise((resolve, reject) => {
    request(`${sink.url}/stats`, { agent }, (res) => {
      let text = '';
      res.on('data', (c) => {
        text += c;
      });
      res.on('end', () => resolve(JSON.parse(text)));
    })
      .on('error', reject)
      .end();
  });
  await stop(sink);
  return {
    time: { off: median(time.off), on: median(time.on) },
    cpu: { off: median(cpu.off), on: median(cpu.on) },
    range: { off: time.off, on: time.on },
    exported,
  };
}

function tracingRows(t) {
  const label = `${SMALL_REQUESTS} × 200 KiB, concurrency ${SMALL_CONCURRENCY}, median of ${PAIRS * SMALL_ROUNDS} rounds in ${PAIRS} pairs: streaming`;
  return [
    `| ${label}, tracing off | ${t.time.off.toFixed(0)} total | | | ${t.cpu.off.toFixed(2)} | |`,
    `| ${label}, tracing on (OTLP/HTTP to a local sink) | ${t.time.on.toFixed(0)} total | | | ${t.cpu.on.toFixed(2)} | |`,
  ];
}

function tracingSummary(t) {
  const spread = (xs) => `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}`;
  return (
    `tracing on vs off: time ${(t.time.on / t.time.off).toFixed(2)}x, server CPU ${(t.cpu.on / t.cpu.off).toFixed(2)}x ` +
    `(rounds: off ${spread(t.range.off)} ms, on ${spread(t.range.on)} ms; exported ${t.exported.spans} spans ` +
    `in ${t.exported.exports} requests, ${(t.exported.bytes / MiB).toFixed(1)} MiB)`
  );
}

// ---- Issue 15: small uploads one at a time, small uploads beside the heavy load, oversized answers.

/** Small uploads sent one after another (concurrency 1): the latency one person sees. */
const SEQUENTIAL_REQUESTS = 40;

async function smallSequential(url, payload, n = SEQUENTIAL_REQUESTS) {
  const latencies = [];
  for (let i = 0; i < n; i++) {
    const r = await post(url, payload.body, payload.headers);
    if (r.status !== 201) throw new Error(`unexpected status ${r.status}`);
    latencies.push(r.ms);
  }
  return latencies;
}

/** Small uploads per second beside the heavy load (an open loop: sent on time, whatever the answers do). */
const MIXED_PER_SECOND = 32;
/** How long the idle server is measured at the same rate, for the comparison. */
const MIXED_IDLE_MS = 4000;

/** Sends one small upload every 1/perSecond s until `done` resolves; the latencies of all of them. */
async function smallStream(url, payload, perSecond, done) {
  const pending = [];
  let stop = false;
  void done.then(() => {
    stop = true;
  });
  const t0 = performance.now();
  for (let i = 0; !stop; i++) {
    pending.push(
      post(url, payload.body, payload.headers).then((r) => {
        if (r.status !== 201) throw new Error(`unexpected status ${r.status}`);
        return r.ms;
      }),
    );
    const next = t0 + ((i + 1) * 1000) / perSecond;
    await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
  }
  return Promise.all(pending);
}

/** The heavy load with MIXED_PER_SECOND small uploads alongside, and the same small stream on the idle server. */
async function mixed(fakeUrl, fileBytes) {
  const files = Array.from({ length: FILES }, () => wav(fileBytes));
  const heavyPayload = multipartBody(files);
  const small = multipartBody([wav(200 * 1024)]);
  const svc = await start(SCRIPTS.streaming, serviceEnv(fakeUrl, fileBytes));
  const url = `${svc.url}/api/voices/clone`;
  await heavyLoad(url, heavyPayload, 1);
  for (let w = 0; w < 2; w++) await smallLoad(url, small);
  const idle = await smallStream(
    url,
    small,
    MIXED_PER_SECOND,
    new Promise((r) => setTimeout(r, MIXED_IDLE_MS)),
  );
  const start0 = machineJiffies();
  const heavyDone = heavyLoad(url, heavyPayload);
  const during = await smallStream(url, small, MIXED_PER_SECOND, heavyDone);
  const heavyLatencies = await heavyDone;
  const end = machineJiffies();
  await stop(svc);
  return {
    idle,
    during,
    heavyLatencies,
    busy: busyShare(start0, end),
    steal: stealShare(start0, end),
    p99Ratio: pct(during, 99) / pct(idle, 99),
  };
}

/**
 * The mixed scenario in PROCESSES fresh processes, their latencies pooled. One process gives 128
 * small uploads on the idle server and 170–220 beside the load, so its p99 is its second-worst
 * upload: the pooled p99 is taken over three times as many.
 */
async function mixedRepeated(fakeUrl, fileBytes) {
  const runs = await inFreshProcesses(() => mixed(fakeUrl, fileBytes));
  const idle = runs.flatMap((r) => r.idle);
  const during = runs.flatMap((r) => r.during);
  return {
    idle,
    during,
    heavyLatencies: runs.flatMap((r) => r.heavyLatencies),
    busy: meanOf(runs, 'busy'),
    steal: meanOf(runs, 'steal'),
    p99Ratio: pct(during, 99) / pct(idle, 99),
    perProcess: runs.map((r) => r.p99Ratio),
  };
}

/** The mixed table: small uploads on the idle server and beside the heavy load. */
function mixedTable(mix) {
  return (
    `\n| mixed: heavy load (8 MiB files) + ${MIXED_PER_SECOND} small uploads/s | small p50 ms | small p99 ms | small uploads | heavy median ms | machine busy |\n|---|---:|---:|---:|---:|---:|\n` +
    `| idle server, small uploads only | ${median(mix.idle).toFixed(1)} | ${pct(mix.idle, 99).toFixed(1)} | ${mix.idle.length} | — | — |\n` +
    `| beside the heavy load | ${median(mix.during).toFixed(1)} | ${pct(mix.during, 99).toFixed(1)} | ${mix.during.length} | ${median(mix.heavyLatencies).toFixed(0)} | ${pctOf(mix.busy)} (${pctOf(mix.steal)} stolen) |\n` +
    `\nmixed p99 vs idle: ${mix.p99Ratio.toFixed(2)}x` +
    ` (${PROCESSES} processes pooled; each on its own: ${mix.perProcess.map((r) => `${r.toFixed(2)}x`).join(', ')})`
  );
}

/** Oversized answers read by the service: how much its peak RSS grows (the cap is UPSTREAM_MAX_RESPONSE_BYTES). */
const OVERSIZED_REQUESTS = 8;

async function oversizedAnswers() {
  const upstream = await start(SCRIPTS.oversized);
  const svc = await start(SCRIPTS.streaming, serviceEnv(upstream.url, 200 * 1024));
  const url = `${svc.url}/api/voices/clone`;
  const small = multipartBody([wav(200 * 1024)]);
  const send = (id) => post(url, small.body, { ...small.headers, 'x-request-id': id });
  // Warm, so the figure is the growth the oversized answers cause, not the first requests'.
  for (let i = 0; i < 50; i++) await send(`normal-${i}`);
  const before = vmHWM(svc.proc.pid);
  const statuses = {};
  for (const kind of ['huge', 'bomb']) {
    const results = await Promise.all(
      Array.from({ length: OVERSIZED_REQUESTS }, (_, i) => send(`${kind}-${i}`)),
    );
    statuses[kind] = [...new Set(results.map((r) => r.status))].join(',');
  }
  const after = vmHWM(svc.proc.pid);
  await stop(svc);
  await stop(upstream);
  return { before, after, growth: after - before, statuses };
}

/**
 * Warm-up rounds for services compared side by side, taking turns in `order`, so none sits idle
 * while another warms up. Warmed one after the other, the first idled for the other's whole warm-up
 * (about 10 s) and was measurably slower in the rounds after: with the buffering variant warmed
 * first instead, the concurrency 32 ratio went from 0.80 and 0.86 to 0.66 and 0.72 (two runs each way).
 */
async function warmTogether(services, order, payload, rounds) {
  for (let w = 0; w < rounds; w++) {
    for (const kind of order) await smallLoad(`${services[kind].url}/api/voices/clone`, payload);
  }
}

/**
 * Side-by-side comparisons run as PAIRS pairs of fresh processes, the order reversed in every other
 * pair: which starts and warms up first. Even taking turns, the order left a bias: two processes of
 * the same build, warmed in turns with the same one first in every round, differed by about a tenth
 * in the timed rounds after (the one warmed last faster: 0.84–1.03 of the other's time in ten runs,
 * mean 0.92; 1.03–1.20 with the order reversed, mean 1.12). Each variant goes first in half the
 * pairs, so the bias falls on both alike, and four fresh processes of each spread what one process
 * happens to get (two pairs in one run gave 0.65 and 0.76). `run(services, order)` measures one
 * pair; every process is stopped after it.
 */
const PAIRS = 4;

async function sideBySide(kinds, startKind, run) {
  for (let pair = 0; pair < PAIRS; pair++) {
    const order = pair % 2 ? [...kinds].reverse() : kinds;
    const services = {};
    try {
      for (const kind of order) services[kind] = await startKind(kind);
      await run(services, order);
    } finally {
      for (const svc of Object.values(services)) await stop(svc);
    }
  }
}

/**
 * SMALL_ROUNDS timed rounds of the small load per service, taking turns in `order` flipped every
 * round; each round's milliseconds go to `time[kind]`, its server CPU seconds to `cpu[kind]`.
 */
async function timedRounds(services, order, payload, time, cpu) {
  for (let r = 0; r < SMALL_ROUNDS; r++) {
    for (const kind of turnOrder(r, order)) {
      const cpu0 = cpuSeconds(services[kind].proc.pid);
      time[kind].push(await smallLoad(`${services[kind].url}/api/voices/clone`, payload));
      cpu[kind].push(cpuSeconds(services[kind].proc.pid) - cpu0);
    }
  }
}

/** Which goes first in round `r`: the order flips every round, so neither always follows the other. */
function turnOrder(r, kinds) {
  return r % 2 ? [...kinds].reverse() : kinds;
}

/**
 * The small uploads, streaming and buffering side by side: concurrency 32 rounds, then one at a
 * time. The stack floor (bench/stack-floor.mjs: the same express, multer and got with none of
 * SPEC's steps) takes the concurrency 32 rounds too, between the two (so the order's bias, see
 * sideBySide, falls on the service and the buffering variant alike): what the stack alone costs.
 */
async function smallComparison(fakeUrl) {
  console.error(`bench: ${SMALL_REQUESTS} × 200 KiB at concurrency ${SMALL_CONCURRENCY}…`);
  const small = multipartBody([wav(200 * 1024)]);
  // In each pair (see sideBySide), both services take turns (the order flipped every round), 5
  // timed rounds each after SMALL_WARMUP_ROUNDS unmeasured ones, also taken in turns: the median of
  // alternating rounds is far less noisy than one round each.
  // The service runs as a user runs it: every per-file step (sniffing, the audio facts) is in
  // these rounds, and its cost shows in "server CPU ms per upload" below.
  const rounds = { streaming: [], stack: [], buffering: [] };
  const smallCpu = { streaming: [], stack: [], buffering: [] };
  const sequential = { streaming: [], buffering: [] };
  const jiffies = { busy: 0, total: 0, steal: 0 };
  await sideBySide(
    ['streaming', 'stack', 'buffering'],
    (kind) => start(SCRIPTS[kind], serviceEnv(fakeUrl, 200 * 1024)),
    async (services, order) => {
      await warmTogether(services, order, small, SMALL_WARMUP_ROUNDS);
      const [busy0, total0, steal0] = machineJiffies();
      await timedRounds(services, order, small, rounds, smallCpu);
      const [busy1, total1, steal1] = machineJiffies();
      jiffies.busy += busy1 - busy0;
      jiffies.total += total1 - total0;
      jiffies.steal += steal1 - steal0;
      console.error(
        `bench: 200 KiB one at a time, ${SMALL_ROUNDS} × ${SEQUENTIAL_REQUESTS} each, taking turns…`,
      );
      for (let r = 0; r < SMALL_ROUNDS; r++) {
        for (const kind of turnOrder(r, order).filter((k) => k !== 'stack')) {
          sequential[kind].push(...(await smallSequential(`${services[kind].url}/api/voices/clone`, small)));
        }
      }
    },
  );
  const smallTimes = {
    streaming: median(rounds.streaming),
    stack: median(rounds.stack),
    buffering: median(rounds.buffering),
  };
  // Server CPU per small upload (ms): where the per-file cost of the audio checks shows.
  const perUpload = (kind) =>
    (1000 * smallCpu[kind].reduce((a, b) => a + b, 0)) / (rounds[kind].length * SMALL_REQUESTS);
  const smallBusy = jiffies.total ? jiffies.busy / jiffies.total : 0;
  const smallSteal = jiffies.total ? jiffies.steal / jiffies.total : 0;
  // Each pair's own ratio (the streaming service went first in the odd ones): how far one pair of
  // processes strays.
  const pairRatios = Array.from({ length: PAIRS }, (_, p) => {
    const of = (kind) => median(rounds[kind].slice(p * SMALL_ROUNDS, (p + 1) * SMALL_ROUNDS));
    return of('streaming') / of('buffering');
  });
  return { smallTimes, perUpload, smallBusy, smallSteal, sequential, pairRatios };
}

/** The small-upload table (both concurrency rows, CPU per upload, machine busy). */
function smallTable({ smallTimes, perUpload, smallBusy, smallSteal, sequential, pairRatios }) {
  const f = (n) => n.toFixed(0);
  return (
    `\n| small uploads (200 KiB, one file) | streaming | buffering | ratio |\n|---|---:|---:|---:|\n` +
    `| concurrency ${SMALL_CONCURRENCY}: total ms for ${SMALL_REQUESTS} (median of ${PAIRS * SMALL_ROUNDS} rounds in ${PAIRS} pairs) | ${f(smallTimes.streaming)} | ${f(smallTimes.buffering)} | ${(smallTimes.streaming / smallTimes.buffering).toFixed(2)} |\n` +
    `| the same, each pair's own ratio (streaming first in the odd ones) | | | ${pairRatios.map((r) => r.toFixed(2)).join('; ')} |\n` +
    `| concurrency ${SMALL_CONCURRENCY}: the stack floor (express, multer, got; none of SPEC's steps; bench-only) | ${f(smallTimes.stack)} | ${f(smallTimes.buffering)} | ${(smallTimes.stack / smallTimes.buffering).toFixed(2)} |\n` +
    `| concurrency 1: median ms (${PAIRS} pairs × ${SMALL_ROUNDS} × ${SEQUENTIAL_REQUESTS} requests) | ${median(sequential.streaming).toFixed(1)} | ${median(sequential.buffering).toFixed(1)} | ${(median(sequential.streaming) / median(sequential.buffering)).toFixed(2)} |\n` +
    `| server CPU ms per upload (concurrency ${SMALL_CONCURRENCY} rounds) | ${perUpload('streaming').toFixed(2)} | ${perUpload('buffering').toFixed(2)} | ${(perUpload('streaming') / perUpload('buffering')).toFixed(2)} |\n` +
    `| the same, the stack floor | ${perUpload('stack').toFixed(2)} | ${perUpload('buffering').toFixed(2)} | ${(perUpload('stack') / perUpload('buffering')).toFixed(2)} |\n` +
    `| machine busy during the concurrency ${SMALL_CONCURRENCY} rounds (${cpus().length} cores) | ${pctOf(smallBusy)} | | |\n` +
    `| of which stolen by the hypervisor | ${pctOf(smallSteal)} | | |`
  );
}

async function main() {
  const fake = await start(path.join(ROOT, 'bench/fake-upstream.mjs'));
  // BENCH_ONLY=tracing: the tracing rows alone (about a minute), for comparing runs of just those.
  if (process.env.BENCH_ONLY === 'tracing') {
    console.error(
      `bench: tracing on vs off, ${SMALL_REQUESTS} × 200 KiB at concurrency ${SMALL_CONCURRENCY}…`,
    );
    const t = await tracingCost(fake.url);
    await stop(fake);
    console.log(
      '\n| load | median ms | peak RSS MiB | /healthz p99 ms | server CPU s/round | machine busy |',
    );
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const r of tracingRows(t)) console.log(r);
    console.log(`\n${tracingSummary(t)}`);
    return;
  }
  // BENCH_ONLY=mixed: the mixed row alone (about a minute), for comparing runs of just that.
  if (process.env.BENCH_ONLY === 'mixed') {
    const mix = await mixedRepeated(fake.url, 8 * MiB);
    await stop(fake);
    console.log(mixedTable(mix));
    return;
  }
  // BENCH_ONLY=small: the small-upload comparison alone (about a minute and a half).
  if (process.env.BENCH_ONLY === 'small') {
    const small = await smallComparison(fake.url);
    await stop(fake);
    console.log(smallTable(small));
    return;
  }
  // BENCH_ONLY=heavy: the streaming service's heavy load alone (3 processes, about 25 s), for
  // comparing its peak RSS and median across Node flags.
  if (process.env.BENCH_ONLY === 'heavy') {
    const r = await heavyRepeated('streaming', fake.url, 8 * MiB);
    await stop(fake);
    const rss = r.rss.map((x) => x.toFixed(0)).join(', ');
    console.log(
      `streaming, 8 MiB files: median ${median(r.latencies).toFixed(0)} ms, peak RSS ${rss} MiB (median ${median(r.rss).toFixed(0)}), /healthz p99 ${pct(r.health, 99).toFixed(1)} ms`,
    );
    return;
  }
  const size = 8 * MiB;
  console.error(`bench: ${CLIENTS} clients × ${FILES} files × ${size / MiB} MiB, ${ROUNDS} rounds each…`);

  const directPayload = jsonBody(Array.from({ length: FILES }, () => wav(size)));
  await heavyLoad(`${fake.url}/voices/clone`, directPayload, 1);
  const directStart = machineJiffies();
  const direct = { latencies: await heavyLoad(`${fake.url}/voices/clone`, directPayload) };
  direct.busy = busyShare(directStart, machineJiffies());
  const streaming = await heavyRepeated('streaming', fake.url, size);
  const doubled = await heavyRepeated('streaming', fake.url, 2 * size);
  // Measured as the service is (PROCESSES fresh processes, latencies pooled): one process's median
  // swung from 4.6 to 5.7 s across runs, and the goal's ratio with it.
  const buffering = await heavyRepeated('buffering', fake.url, size);
  const floor = await heavy('floor', fake.url, size);

  const small = await smallComparison(fake.url);
  const { smallTimes, sequential } = small;
  console.error('bench: tracing on vs off…');
  const tracing = await tracingCost(fake.url);

  console.error(`bench: the heavy load with ${MIXED_PER_SECOND} small uploads per second alongside…`);
  const mix = await mixedRepeated(fake.url, size);
  await stop(fake);
  console.error('bench: oversized upstream answers (300 MiB, gzip bomb)…');
  const oversized = await oversizedAnswers();

  const f = (n) => n.toFixed(0);
  const peak = (r) => median(r.rss);
  const rssCell = (r) =>
    r.rss.length > 1 ? `${f(peak(r))} (${f(Math.min(...r.rss))}–${f(Math.max(...r.rss))})` : f(peak(r));
  const row = (label, r) => [
    label,
    f(median(r.latencies)),
    rssCell(r),
    pct(r.health, 99).toFixed(1),
    r.cpuPerRound.toFixed(2),
    pctOf(r.busy),
  ];
  const rows = [
    ['direct JSON to upstream (baseline)', f(median(direct.latencies)), '—', '—', '—', pctOf(direct.busy)],
    row('receive-then-send floor (bench-only), 8 MiB files', floor),
    row(`streaming service, 8 MiB files (${PROCESSES} processes)`, streaming),
    row(`streaming service, 16 MiB files (${PROCESSES} processes)`, doubled),
    row(`buffering variant, 8 MiB files (${PROCESSES} processes)`, buffering),
  ];
  console.log(
    `\n| load (${CLIENTS} clients × ${FILES} files, ${ROUNDS} rounds) | median ms | peak RSS MiB | /healthz p99 ms | server CPU s/round | machine busy (${cpus().length} cores) |`,
  );
  console.log('|---|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log(
    `| ${SMALL_REQUESTS} × 200 KiB, concurrency ${SMALL_CONCURRENCY}, median of ${PAIRS * SMALL_ROUNDS} rounds in ${PAIRS} pairs: streaming | ${f(smallTimes.streaming)} total | | | | |`,
  );
  console.log(
    `| ${SMALL_REQUESTS} × 200 KiB, concurrency ${SMALL_CONCURRENCY}, median of ${PAIRS * SMALL_ROUNDS} rounds in ${PAIRS} pairs: buffering | ${f(smallTimes.buffering)} total | | | | |`,
  );
  for (const r of tracingRows(tracing)) console.log(r);
  console.log(smallTable(small));
  console.log(mixedTable(mix));
  console.log(
    `\n| oversized upstream answers (${OVERSIZED_REQUESTS} concurrent each: 300 MiB; gzip bomb inflating to 300 MiB) | figure |\n|---|---:|\n` +
      `| answers given (huge; bomb) | ${oversized.statuses.huge}; ${oversized.statuses.bomb} |\n` +
      `| peak RSS before → after, MiB | ${f(oversized.before)} → ${f(oversized.after)} |\n` +
      `| peak RSS growth, MiB | ${oversized.growth.toFixed(1)} |`,
  );
  // Not goals: where the time goes. The floor only receives and sends; the service adds parsing,
  // the disk spool and base64 on top (SPEC keeps uploads off the heap, so the spool stays).
  console.log(
    `\nfloor vs direct: ${(median(floor.latencies) / median(direct.latencies)).toFixed(2)}x; ` +
      `streaming vs floor: ${(median(streaming.latencies) / median(floor.latencies)).toFixed(2)}x`,
  );
  console.log(tracingSummary(tracing));

  const goals = [
    ['peak RSS (8 MiB files, median) < 160 MiB', peak(streaming), peak(streaming) < 160],
    [
      'RSS growth when files double (medians) < 10%',
      peak(doubled) / peak(streaming) - 1,
      peak(doubled) / peak(streaming) < 1.1,
    ],
    [
      'median vs buffering <= 0.30',
      median(streaming.latencies) / median(buffering.latencies),
      median(streaming.latencies) / median(buffering.latencies) <= 0.3,
    ],
    ['/healthz p99 during load < 50 ms', pct(streaming.health, 99), pct(streaming.health, 99) < 50],
    [
      'small uploads (concurrency 32) total vs buffering <= 0.70',
      smallTimes.streaming / smallTimes.buffering,
      smallTimes.streaming / smallTimes.buffering <= 0.7,
    ],
    [
      'small uploads (concurrency 1) median vs buffering <= 1.0',
      median(sequential.streaming) / median(sequential.buffering),
      median(sequential.streaming) <= median(sequential.buffering),
    ],
    ['mixed: small-upload p99 vs idle < 3.0', mix.p99Ratio, mix.p99Ratio < 3],
    ['oversized upstream answers: peak RSS growth < 32 MiB', oversized.growth, oversized.growth < 32],
  ];
  // Reported, not goals: where the heavy load's time goes beyond the floor, and the floor beyond direct.
  const reported = [
    ['heavy median vs the receive-then-send floor', median(streaming.latencies) / median(floor.latencies)],
    ['heavy median vs direct JSON', median(streaming.latencies) / median(direct.latencies)],
    // What the stack alone takes of the buffering variant's time on small uploads, and what SPEC's
    // steps add to it: the small-upload goal is met only if those steps cost less than the gap.
    ['small uploads (concurrency 32): the stack floor vs buffering', smallTimes.stack / smallTimes.buffering],
    [
      'small uploads (concurrency 32): the service vs the stack floor',
      smallTimes.streaming / smallTimes.stack,
    ],
  ];
  console.log('\n| goal | figure | met |\n|---|---:|:---:|');
  for (const [name, value, met] of goals)
    console.log(`| ${name} | ${value.toFixed(3)} | ${met ? 'yes' : 'NO'} |`);
  for (const [name, value] of reported) console.log(`| ${name} (reported) | ${value.toFixed(3)} | — |`);
  console.log(
    `\nCPU time stolen by the hypervisor over the whole run: ${(100 * stealShare(RUN_START, machineJiffies())).toFixed(1)}%`,
  );
  process.exitCode = goals.every((g) => g[2]) ? 0 : 1;
}

try {
  await main();
} catch (error) {
  // What the processes still running said before the failure (the failing one is among them).
  for (const [proc, lines] of problems) {
    if (children.has(proc) && lines.length > 0)
      console.error(
        `bench: ${path.basename(proc.spawnargs.at(-1))} (pid ${proc.pid}) logged:\n${lines.join('\n')}`,
      );
  }
  throw error;
}
agent.destroy();
process.exit(process.exitCode ?? 0);
