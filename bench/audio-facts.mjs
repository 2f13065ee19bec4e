// What reading audio facts costs per file, per format: `npm run build && node bench/audio-facts.mjs`
// (needs ffmpeg to make the ~200 KiB and ~8 MiB files from the shared sample). Prints, for each
// file and source form, the median wall time, CPU per file and the RSS/heap it adds; then 16
// files of 8 MiB read at once, and 200 files of 200 KiB held in memory at concurrency 32 (the
// small-upload row's load). Machine noise on 2 cores is ±15%: compare runs, not single figures.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readAudioFacts } from '../dist/audio/audio-facts.js';
import { sniffAudio } from '../dist/audio/sniff.js';

const FIXTURES = path.resolve(import.meta.dirname, '../test/fixtures/audio');
// Typical encodings of each format, looped from the 2 s sample up to the target size.
const ENCODINGS = {
  wav: ['-ar', '44100', '-c:a', 'pcm_s16le'],
  mp3: ['-ar', '44100', '-c:a', 'libmp3lame', '-b:a', '128k'],
  m4a: ['-ar', '44100', '-c:a', 'aac', '-b:a', '128k'],
  aac: ['-ar', '44100', '-c:a', 'aac', '-b:a', '128k', '-f', 'adts'],
  ogg: ['-c:a', 'libopus', '-b:a', '64k'],
  webm: ['-c:a', 'libopus', '-b:a', '64k'],
  flac: ['-ar', '44100', '-c:a', 'flac'],
};

const dir = mkdtempSync(path.join(os.tmpdir(), 'audio-bench-'));
const files = [
  'sample.wav',
  'sample.mp3',
  'sample.m4a',
  'sample.aac',
  'sample.ogg',
  'sample.webm',
  'sample.flac',
  'chromium-recording-timeslice.webm',
].map((name) => path.join(FIXTURES, name));
for (const [label, bytes] of [
  ['200k', 200 * 1024],
  ['8m', 8 * 1024 * 1024],
]) {
  for (const [ext, args] of Object.entries(ENCODINGS)) {
    const out = path.join(dir, `${label}.${ext}`);
    execFileSync('ffmpeg', [
      '-v',
      'error',
      '-y',
      '-stream_loop',
      '-1',
      '-i',
      path.join(FIXTURES, 'sample.wav'),
      '-ac',
      '2',
      '-ar',
      '48000',
      ...args,
      '-fs',
      String(bytes),
      out,
    ]);
    files.push(out);
  }
}

const mib = (b) => (b / 1048576).toFixed(1);
/** The type the service would send, found the way it finds it: from the file's own bytes. */
const typeOf = async (f) => sniffAudio(readFileSync(f).subarray(0, 4100), { path: f });
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(file, form) {
  const size = statSync(file).size;
  const held = form === 'bytes' ? readFileSync(file) : null;
  const source = () => (held ? { bytes: held } : { path: file });
  for (let i = 0; i < 3; i++) await readAudioFacts(source(), await typeOf(file)); // warm-up (JIT)
  const n = size > 4 * 1048576 ? 7 : size > 100 * 1024 ? 41 : 101;
  globalThis.gc?.();
  const rss0 = process.memoryUsage().rss;
  const heap0 = process.memoryUsage().heapUsed;
  let rssPeak = rss0;
  let heapPeak = heap0;
  const walls = [];
  const cpu0 = process.cpuUsage();
  let seconds = 0;
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    seconds = (await readAudioFacts(source(), await typeOf(file))).seconds;
    walls.push(performance.now() - t);
    const m = process.memoryUsage();
    rssPeak = Math.max(rssPeak, m.rss);
    heapPeak = Math.max(heapPeak, m.heapUsed);
  }
  const cpu = process.cpuUsage(cpu0);
  return {
    size,
    seconds,
    wall: median(walls),
    cpu: (cpu.user + cpu.system) / 1000 / n,
    rss: rssPeak - rss0,
    heap: heapPeak - heap0,
  };
}

console.log(
  '| file | form | KiB | seconds | median wall ms | CPU ms/file | RSS growth MiB | heap growth MiB |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const file of files) {
  for (const form of statSync(file).size > 1048576 ? ['path'] : ['bytes', 'path']) {
    const m = await measure(file, form);
    console.log(
      `| ${path.basename(file)} | ${form} | ${(m.size / 1024).toFixed(0)} | ${m.seconds} | ${m.wall.toFixed(2)} | ${m.cpu.toFixed(2)} | ${mib(m.rss)} | ${mib(m.heap)} |`,
    );
  }
}

// 16 spooled 8 MiB files of one format read at once (the heavy load's 16 clients).
console.log('\n| 16 × 8 MiB at once (path) | wall ms | CPU ms | RSS growth MiB |\n|---|---|---|---|');
for (const ext of Object.keys(ENCODINGS)) {
  const file = path.join(dir, `8m.${ext}`);
  globalThis.gc?.();
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 2);
  const cpu0 = process.cpuUsage();
  const type = await typeOf(file);
  const t = performance.now();
  await Promise.all(Array.from({ length: 16 }, () => readAudioFacts({ path: file }, type)));
  const wall = performance.now() - t;
  clearInterval(timer);
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `| ${ext} | ${wall.toFixed(0)} | ${((cpu.user + cpu.system) / 1000).toFixed(0)} | ${mib(peak - rss0)} |`,
  );
}

// 200 files of ~200 KiB held in memory, 32 at a time (the small-upload row's audio work).
console.log('\n| 200 × 200 KiB in memory, concurrency 32 | total ms | CPU ms/file |\n|---|---|---|');
for (const ext of Object.keys(ENCODINGS)) {
  const bytes = readFileSync(path.join(dir, `200k.${ext}`));
  const type = await typeOf(path.join(dir, `200k.${ext}`));
  const cpu0 = process.cpuUsage();
  const t = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next++ < 200) await readAudioFacts({ bytes }, type);
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `| ${ext} | ${(performance.now() - t).toFixed(0)} | ${((cpu.user + cpu.system) / 1000 / 200).toFixed(2)} |`,
  );
}
rmSync(dir, { recursive: true, force: true });
