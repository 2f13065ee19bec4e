import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const MAIN = path.resolve(import.meta.dirname, '../../dist/main.js');

/** The built service running as a real process (npm test builds before it runs the tests). */
export interface ServiceProcess {
  proc: ChildProcess;
  url: string;
  lines: string[];
  stderr: string[];
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The run's temporary folder (test/helpers/suite-setup.mjs), so a process's temp files are removed with it. */
const suiteTmp = () => (process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {});

/** Starts `node dist/main.js` on a free port and resolves once it logs its URL. */
export async function startServiceProcess(env: Record<string, string>): Promise<ServiceProcess> {
  if (!existsSync(MAIN)) throw new Error('dist/main.js is missing: run `npm run build` (npm test does)');
  const proc = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', ...suiteTmp(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  proc.stderr?.on('data', (c: Buffer) => stderr.push(String(c)));
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    proc.stdout?.on('data', (c: Buffer) => {
      buffered += String(c);
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        const m = /"url":"(http:\/\/[^"]+)".*listening/.exec(line);
        if (m?.[1] && line.includes('truedy-voice-bff listening')) resolve(m[1]);
      }
    });
    void exited.then((code) => reject(new Error(`exited ${code} before listening: ${stderr.join('')}`)));
  });
  return {
    proc,
    url,
    lines,
    stderr,
    exited,
    stop: (signal = 'SIGTERM') => {
      proc.kill(signal);
      return exited;
    },
  };
}

/** Runs `node dist/main.js` expecting it to exit on its own (bad configuration). */
export async function runToExit(
  env: Record<string, string>,
): Promise<{ code: number | null; stderr: string }> {
  const proc = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', PORT: '0', ...suiteTmp(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (c: Buffer) => {
    stderr += String(c);
  });
  const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
  return { code, stderr };
}
