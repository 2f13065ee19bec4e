import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SCRIPT = path.join(ROOT, 'scripts/provision.sh');

/** Every tool the script checks and the Debian package it names (SPEC "Running it"). */
const TOOLS: Record<string, string> = {
  'redis-server': 'redis-server',
  'redis-cli': 'redis-tools',
  chromium: 'chromium',
  nginx: 'nginx-light',
  ffmpeg: 'ffmpeg',
  ffprobe: 'ffmpeg',
  openssl: 'openssl',
};

/** Where `name` is on the test runner's own PATH. */
function which(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  throw new Error(`${name} is not on PATH`);
}
const BASH = which('bash');

/** A PATH of its own: a folder holding stub executables for `present` and nothing else. */
function fakePath(present: string[]): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bff-provision-'));
  for (const tool of present) stub(dir, tool, 'exit 0');
  return dir;
}

function stub(dir: string, name: string, body: string) {
  const file = path.join(dir, name);
  writeFileSync(file, `#!${BASH}\n${body}\n`);
  chmodSync(file, 0o755);
}

/**
 * An apt-get that records its calls (and DEBIAN_FRONTEND) and, on `install`, puts stubs for the
 * tools of the packages it was given into `dir`, as the real one puts them into /usr/bin.
 */
function fakeAptGet(dir: string, options: { installFails?: boolean } = {}): string {
  const log = path.join(dir, 'apt-get.log');
  const byPackage = Object.entries(TOOLS)
    .map(
      ([tool, pkg]) =>
        `[ "$p" = ${pkg} ] && { printf '#!${BASH}\\n' > ${dir}/${tool}; ${which('chmod')} 755 ${dir}/${tool}; }`,
    )
    .join('\n');
  stub(
    dir,
    'apt-get',
    [
      `echo "DEBIAN_FRONTEND=$DEBIAN_FRONTEND $*" >> ${log}`,
      '[ "$1" = install ] || exit 0',
      options.installFails ? 'echo "E: Unable to locate package" >&2; exit 100' : '',
      'for p in "$@"; do',
      byPackage,
      'done; exit 0',
    ].join('\n'),
  );
  return log;
}

function provision(env: Record<string, string>) {
  const r = spawnSync(BASH, [SCRIPT], { env, encoding: 'utf8', timeout: 10_000 });
  return { code: r.status, stdout: r.stdout, lines: r.stderr.split('\n').filter(Boolean) };
}

describe('scripts/provision.sh (npm test and .ci/run run it first)', () => {
  it('not allowed to install: one line per missing tool naming its package, exit non-zero', () => {
    const r = provision({ PATH: fakePath([]), PROVISION_NO_INSTALL: '1' });
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe('');
    expect(r.lines).toHaveLength(Object.keys(TOOLS).length);
    for (const [i, [tool, pkg]] of Object.entries(TOOLS).entries()) {
      expect(r.lines[i]).toMatch(
        new RegExp(`^provision: ${tool} is missing: .*apt-get install -y ${pkg}\\b`),
      );
    }
  });

  it('names only what is missing', () => {
    const dir = fakePath(Object.keys(TOOLS).filter((t) => t !== 'nginx' && t !== 'ffprobe'));
    const r = provision({ PATH: dir, PROVISION_NO_INSTALL: '1' });
    expect(r.code).toBe(1);
    expect(r.lines.map((l) => /^provision: (\S+) is missing: .*install -y (\S+)`/.exec(l)?.slice(1))).toEqual(
      [
        ['nginx', 'nginx-light'],
        ['ffprobe', 'ffmpeg'],
      ],
    );
  });

  it('as a non-root user it never calls apt-get, even when apt-get is there', () => {
    const dir = fakePath([]);
    const log = fakeAptGet(dir);
    const r = provision({ PATH: dir, PROVISION_EUID: '1000' });
    expect(r.code).toBe(1);
    expect(r.lines).toHaveLength(Object.keys(TOOLS).length);
    expect(existsSync(log)).toBe(false);
  });

  it('as root with apt-get it installs each missing package once, non-interactively, then passes', () => {
    const dir = fakePath(['redis-server', 'redis-cli', 'openssl']);
    const log = fakeAptGet(dir);
    const r = provision({ PATH: dir, PROVISION_EUID: '0' });
    expect(r.code).toBe(0);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([
      'DEBIAN_FRONTEND=noninteractive update -qq',
      'DEBIAN_FRONTEND=noninteractive install -y -qq --install-recommends chromium nginx-light ffmpeg',
    ]);
  });

  it('as root, when apt-get fails, it still stops with one line per tool that is missing', () => {
    const dir = fakePath(['redis-server', 'redis-cli', 'chromium', 'nginx', 'ffmpeg', 'ffprobe']);
    fakeAptGet(dir, { installFails: true });
    const r = provision({ PATH: dir, PROVISION_EUID: '0' });
    expect(r.code).toBe(1);
    expect(r.lines.filter((l) => l.includes(' is missing: '))).toEqual([
      expect.stringMatching(/^provision: openssl is missing: .*apt-get install -y openssl/),
    ]);
  });

  it('with everything present it says nothing, calls no apt-get and passes', () => {
    const dir = fakePath(Object.keys(TOOLS));
    const log = fakeAptGet(dir);
    const r = provision({ PATH: dir, PROVISION_EUID: '0' });
    expect(r).toEqual({ code: 0, stdout: '', lines: [] });
    expect(existsSync(log)).toBe(false);
  });

  it('this machine has everything the suite needs (what npm test just checked)', () => {
    const r = provision({ PATH: process.env.PATH ?? '', PROVISION_NO_INSTALL: '1' });
    expect(r).toEqual({ code: 0, stdout: '', lines: [] });
  });

  it('`npm test` stops on a missing tool before the typecheck, lint, build or any test runs', () => {
    // Only node and the shells on PATH: npm adds node_modules/.bin, so tsc, biome and jest would run.
    const dir = fakePath([]);
    for (const tool of ['node', 'sh', 'bash']) symlinkSync(which(tool), path.join(dir, tool));
    const npmCli = realpathSync(which('npm'));
    const r = spawnSync(process.execPath, [npmCli, 'test'], {
      cwd: ROOT,
      env: { PATH: dir, HOME: dir, PROVISION_NO_INSTALL: '1' },
      encoding: 'utf8',
      timeout: 15_000,
    });
    expect(r.status).not.toBe(0);
    const output = `${r.stdout}${r.stderr}`;
    expect(output).toContain('provision: redis-server is missing');
    // npm echoes the whole test command first; what must not appear is any later step starting.
    expect(output).not.toMatch(/^> \S+ (typecheck|lint|build)$/m);
    expect(output).not.toContain('Test Suites:');
  });
});
