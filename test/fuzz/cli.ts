// The long fuzz run, bundled and started by scripts/fuzz-audio.mjs (see there for the options).
// Phases: fixtures (every file as every type), bombs (hostile shapes at 64 KiB, as every type),
// mutations (seeded, for a count or a time budget), scaling (each hostile shape and real files
// at 100 KiB and 10 MiB: time and event-loop hold), memory (the 10 MiB inputs in a child
// process each: peak RSS over a warmed-up baseline).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readAudioFacts } from '../../src/audio/audio-facts.js';
import { BOMBS } from './bombs.js';
import {
  bombCases,
  bombSeeds,
  buildWorker,
  crossTypeCases,
  type Finding,
  type FuzzSummary,
  fixtureSeeds,
  mutationCases,
  Runner,
  runFuzz,
} from './harness.js';
import type { FuzzCase } from './mutate.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const KIB = 1024;
const MIB = 1024 * 1024;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const ENCODINGS: Record<string, [string, string[]]> = {
  wav: ['audio/wav', ['-ar', '44100', '-c:a', 'pcm_s16le']],
  mp3: ['audio/mpeg', ['-ar', '44100', '-c:a', 'libmp3lame', '-b:a', '128k']],
  m4a: ['audio/mp4', ['-ar', '44100', '-c:a', 'aac', '-b:a', '128k']],
  aac: ['audio/aac', ['-ar', '44100', '-c:a', 'aac', '-b:a', '128k', '-f', 'adts']],
  ogg: ['audio/ogg', ['-c:a', 'libopus', '-b:a', '64k']],
  webm: ['audio/webm', ['-c:a', 'libopus', '-b:a', '64k']],
  flac: ['audio/flac', ['-ar', '44100', '-c:a', 'flac']],
};

/** Real files of about `size` bytes, made with ffmpeg from the shared sample (none without ffmpeg). */
function realFiles(dir: string, size: number): { name: string; type: string; file: string }[] {
  const out = [];
  for (const [ext, [type, args]] of Object.entries(ENCODINGS)) {
    const file = path.join(dir, `real-${size}.${ext}`);
    try {
      execFileSync('ffmpeg', [
        ...[
          '-v',
          'error',
          '-y',
          '-stream_loop',
          '-1',
          '-i',
          path.join(ROOT, 'test/fixtures/audio/sample.wav'),
        ],
        ...['-ac', '2', '-ar', '48000', ...args, '-fs', String(size), file],
      ]);
      out.push({ name: `real.${ext}`, type, file });
    } catch {
      // no ffmpeg (or no encoder): real files are left out
    }
  }
  return out;
}

function report(title: string, s: FuzzSummary): void {
  const groups = new Map<string, Finding[]>();
  for (const f of s.findings) groups.set(f.key, [...(groups.get(f.key) ?? []), f]);
  process.stdout.write(
    `\n## ${title}: ${s.inputs} inputs in ${(s.ms / 1000).toFixed(1)} s (${s.accepted} accepted, ${s.refused} refused), ${s.findings.length} findings in ${groups.size} groups\n`,
  );
  for (const [key, fs] of groups) {
    const f = fs[0] as Finding;
    process.stdout.write(`- ${key} x${fs.length}: ${f.case} (${f.size} bytes, ${f.type}): ${f.detail}\n`);
  }
}

function saver(out: string | null) {
  const seen = new Map<string, number>();
  return (f: Finding, c: FuzzCase) => {
    if (!out) return;
    const n = seen.get(f.key) ?? 0;
    seen.set(f.key, n + 1);
    if (n >= 3) return;
    const name = `${f.kind}-${f.key.replace(/[^\w.-]+/g, '_').slice(0, 80)}-${n}.bin`;
    writeFileSync(path.join(out, name), c.bytes);
    writeFileSync(path.join(out, `${name}.txt`), `${c.name}\n${c.type}\n${f.detail}\n`);
  };
}

async function scaling(workerFile: string, dir: string, sizes: number[], timeoutMs: number): Promise<void> {
  process.stdout.write(`\n## scaling: ms per read at ${sizes.map((s) => `${s / KIB} KiB`).join(' / ')}\n`);
  process.stdout.write(
    '| input | type | form | ms | ratio | longest event-loop hold ms | answer |\n|---|---|---|---|---|---|---|\n',
  );
  const runner = new Runner(workerFile, 512);
  const only = arg('only', '');
  const inputs: { name: string; type: string; at: (size: number) => Buffer }[] = BOMBS.filter(
    (b) => !only || b.name.includes(only),
  ).map((b) => ({
    name: b.name,
    type: b.type,
    at: (size) => b.build(size),
  }));
  const real = new Map<number, ReturnType<typeof realFiles>>(sizes.map((s) => [s, realFiles(dir, s)]));
  for (const r of real.get(sizes[0] as number) ?? []) {
    inputs.push({
      name: r.name,
      type: r.type,
      at: (size) => readFileSync((real.get(size) ?? []).find((x) => x.name === r.name)?.file ?? ''),
    });
  }
  for (const input of inputs) {
    for (const spool of [false, true]) {
      const times: number[] = [];
      let answer = '';
      let hold = 0;
      for (const size of sizes) {
        const bytes = input.at(size);
        const r = await runner.run({ type: input.type, bytes }, timeoutMs, spool);
        if (r.status !== 'done') {
          times.push(Number.POSITIVE_INFINITY);
          answer =
            r.status === 'timeout'
              ? `hang (> ${timeoutMs} ms)`
              : `died: ${r.status === 'died' ? r.message : ''}`;
          break;
        }
        const o = spool && r.reply.path ? r.reply.path : r.reply.bytes;
        times.push(o.ms);
        hold = Math.max(hold, r.reply.blockMs);
        answer = o.kind === 'ok' ? `${o.seconds} s` : o.kind === 'invalid' ? o.reason.slice(0, 70) : o.kind;
      }
      const ratio =
        times.length === sizes.length ? ((times.at(-1) as number) / (times[0] as number)).toFixed(0) : '-';
      process.stdout.write(
        `| ${input.name} | ${input.type} | ${spool ? 'spooled' : 'memory'} | ${times.map((t) => (Number.isFinite(t) ? t.toFixed(1) : 'hang')).join(' / ')} | ${ratio} | ${spool ? '-' : hold.toFixed(0)} | ${answer} |\n`,
      );
    }
  }
  await runner.close();
}

/** Peak RSS growth of one read in a fresh process (after a warm-up read); killed after `timeoutMs`. */
function memoryOf(bundle: string, file: string, type: string, form: string, timeoutMs: number): string {
  const child = spawnSync(process.execPath, ['--expose-gc', bundle, '--mem-child', file, type, form], {
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
  });
  if (child.error || child.status !== 0)
    return `killed or failed (${child.error?.message ?? child.stderr.slice(0, 200)})`;
  return child.stdout.trim();
}

async function memChild(): Promise<void> {
  const [file, type, form] = process.argv.slice(3) as [string, string, string];
  const warm = readFileSync(path.join(ROOT, 'test/fixtures/audio/sample.ogg'));
  for (let i = 0; i < 3; i++) await readAudioFacts({ bytes: warm }, 'audio/ogg');
  const held = form === 'memory' ? readFileSync(file) : null;
  (globalThis as { gc?: () => void }).gc?.();
  const before = process.resourceUsage().maxRSS;
  const heapBefore = process.memoryUsage();
  const started = performance.now();
  let answer: string;
  try {
    const f = await readAudioFacts(held ? { bytes: held } : { path: file }, type);
    answer = `${f.seconds} s`;
  } catch (e) {
    answer = (e as Error).message.slice(0, 60);
  }
  const ms = performance.now() - started;
  const after = process.resourceUsage().maxRSS;
  const heapAfter = process.memoryUsage();
  process.stdout.write(
    `peak RSS +${((after - before) / 1024).toFixed(1)} MiB, heap +${((heapAfter.heapUsed - heapBefore.heapUsed) / MIB).toFixed(1)} MiB after, ${ms.toFixed(0)} ms, ${answer}`,
  );
}

async function main(): Promise<void> {
  if (process.argv[2] === '--mem-child') return memChild();
  const phases = arg('phases', 'fixtures,bombs,mutations,scaling,memory').split(',');
  const seed = Number(arg('seed', '1'));
  const count = Number(arg('cases', '20000'));
  const minutes = Number(arg('minutes', '10'));
  const workers = Number(arg('workers', '1'));
  const large = Number(arg('large-mib', '10')) * MIB;
  const outArg = arg('out', '');
  const out = outArg ? path.resolve(outArg) : null;
  if (out) mkdirSync(out, { recursive: true });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'audio-fuzz-cli-'));
  const workerFile = buildWorker(dir);
  const seeds = [...fixtureSeeds(), ...bombSeeds(4096)];
  const onFinding = saver(out);
  try {
    if (phases.includes('fixtures'))
      report(
        'fixtures as every type',
        await runFuzz({ workerFile, cases: crossTypeCases(seeds), timeoutMs: 5000, onFinding }),
      );
    if (phases.includes('bombs'))
      report(
        'hostile shapes at 64 KiB, as every type',
        await runFuzz({
          workerFile,
          cases: bombCases(64 * KIB, true),
          timeoutMs: 5000,
          blockLimitMs: 200,
          onFinding,
        }),
      );
    if (phases.includes('mutations'))
      report(
        `mutations (seed ${seed})`,
        await runFuzz({
          workerFile,
          cases: mutationCases(seeds, seed, count),
          timeoutMs: 3000,
          spoolEvery: 3,
          budgetMs: minutes * 60_000,
          workers,
          blockLimitMs: 200,
          onFinding,
        }),
      );
    if (phases.includes('scaling'))
      await scaling(workerFile, dir, [100 * KIB, large], Number(arg('scaling-timeout-ms', '30000')));
    if (phases.includes('memory')) {
      process.stdout.write(`\n## memory: each input of ${large / MIB} MiB read in a fresh process\n`);
      const bundle = process.argv[1] as string;
      const inputs: { name: string; type: string; file: string }[] = [];
      const only = arg('only', '');
      for (const b of BOMBS.filter((x) => !only || x.name.includes(only))) {
        const file = path.join(dir, `${b.name}.bin`);
        writeFileSync(file, b.build(large));
        inputs.push({ name: b.name, type: b.type, file });
      }
      if (!only) inputs.push(...realFiles(dir, large));
      const timeout = Number(arg('scaling-timeout-ms', '30000'));
      for (const i of inputs)
        for (const form of ['spooled', 'memory'])
          process.stdout.write(`- ${i.name} ${form}: ${memoryOf(bundle, i.file, i.type, form, timeout)}\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
