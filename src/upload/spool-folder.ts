import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  createWriteStream,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  utimesSync,
  type WriteStream,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The process's own folder inside UPLOAD_DIR (SPEC "Privacy of uploads"). Voice recordings are
 * biometric data: the folder is 0700 and each file 0600, so only the service's user can read them.
 *
 * A process that dies (SIGKILL, the OOM killer, a lost node) cannot clean up, so the folder's
 * name says who owns it: `truedy-bff.<host>.<boot id>.<pid>.<start time>.<random>`. mkdir makes the name
 * and the folder in one step, so no other process can ever see a folder without its owner. A
 * process starting on the same UPLOAD_DIR removes at once every such folder whose owner is dead:
 * - on the same host (same name), the owner is alive only if its pid runs, was started at the
 *   same time (a reused pid has another start time, /proc/<pid>/stat field 22) and the machine has
 *   not rebooted since (same boot id);
 * - a folder of another host (UPLOAD_DIR on shared storage) cannot be asked about its pid: each
 *   live process touches its folder every HEARTBEAT_MS, and a foreign folder untouched for
 *   FOREIGN_DEAD_MS is taken to be dead.
 * Nothing else is ever removed from UPLOAD_DIR: names that are not ours are left alone.
 */

/** The prefix of every spool folder; anything else in UPLOAD_DIR is not ours to touch. */
const PREFIX = 'truedy-bff.';
/** How often a live process touches its folder (the heartbeat that other hosts read). */
export const HEARTBEAT_MS = 15_000;
/** A folder of another host whose heartbeat is older than this belongs to a dead process. */
export const FOREIGN_DEAD_MS = 10 * 60_000;

/** Who owns a spool folder. */
export interface Owner {
  host: string;
  boot: string;
  pid: number;
  /** The process's start time in clock ticks since boot; '' where /proc is missing. */
  start: string;
}

/** How the spool writes a file: Node's fs, or a test's faulty disk (SPEC: ENOSPC, EIO are tested by injection). */
export type OpenWrite = (file: string) => WriteStream;

/**
 * The default writer: a new file, private to the service's user, that must not exist yet. 64 KiB
 * lets a few of busboy's chunks gather into one write: fewer fs round trips, same memory.
 */
export const openPrivateFile: OpenWrite = (file) =>
  createWriteStream(file, { flags: 'wx', mode: 0o600, highWaterMark: 64 * 1024 });

/** A name part without dots or separators (host names are already close to that). */
const part = (s: string) => s.replace(/[^A-Za-z0-9-]/g, '_').slice(0, 64) || '_';

/** A process's start time in clock ticks since boot (/proc/<pid>/stat field 22); empty where there is no /proc. */
export function procStart(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may hold spaces and parentheses: count fields after its closing one.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim().replace(/-/g, '').slice(0, 12);
  } catch {
    return 'noboot';
  }
}

/** This process as a spool folder's owner. */
export function currentOwner(): Owner {
  return {
    host: part(os.hostname()),
    boot: bootId(),
    pid: process.pid,
    start: procStart(process.pid) || '0',
  };
}

/** A folder name for `owner`; the random last field lets one process hold several (one per service). */
export function folderName(owner: Owner): string {
  return `${PREFIX}${owner.host}.${owner.boot}.${owner.pid}.${owner.start}.${randomBytes(4).toString('hex')}`;
}

const sameOwner = (a: Owner, b: Owner) =>
  a.host === b.host && a.boot === b.boot && a.pid === b.pid && a.start === b.start;

/** The owner a folder name states, or undefined when the name is not one of ours. */
export function parseFolderName(name: string): Owner | undefined {
  if (!name.startsWith(PREFIX)) return undefined;
  const fields = name.slice(PREFIX.length).split('.');
  if (fields.length !== 5) return undefined;
  const [host, boot, pid, start, nonce] = fields as [string, string, string, string, string];
  if (!/^\d+$/.test(pid) || !/^\d+$/.test(start) || !/^[0-9a-f]{8}$/.test(nonce)) return undefined;
  return { host, boot, pid: Number(pid), start };
}

/** Is the process `owner` names still running? Only answerable on its own host. */
export function isAlive(owner: Owner, self: Owner): boolean {
  if (owner.boot !== self.boot) return false; // the machine rebooted since: nothing of then runs
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    // EPERM: a process of another user has that pid, so it runs (and it is not ours to judge).
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const start = procStart(owner.pid);
  return start === '' || start === owner.start;
}

/** What a sweep did, for the log. */
export interface SweepResult {
  removed: string[];
}

/**
 * Removes the spool folders of dead owners from `uploadDir` (see the module comment for the rule).
 * Never throws: a folder that cannot be removed now is tried again at the next sweep.
 */
export function sweepDeadFolders(uploadDir: string, self: Owner, now: number): SweepResult {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(uploadDir);
  } catch {
    return { removed };
  }
  for (const name of names) {
    const owner = parseFolderName(name);
    if (!owner || sameOwner(owner, self)) continue;
    const dir = path.join(uploadDir, name);
    let dead: boolean;
    if (owner.host === self.host) dead = !isAlive(owner, self);
    else {
      try {
        dead = now - statSync(dir).mtimeMs > FOREIGN_DEAD_MS;
      } catch {
        continue;
      }
    }
    if (!dead) continue;
    try {
      rmSync(dir, { recursive: true, force: true });
      removed.push(name);
    } catch {
      // Left for the next sweep.
    }
  }
  return { removed };
}

/** The process's spool folder, open for the process's lifetime. */
export interface SpoolFolder {
  /** The private folder uploads are spooled into. */
  dir: string;
  /** What the start-up sweep removed. */
  swept: string[];
  /** How files are written into it. */
  openWrite: OpenWrite;
  /** Removes the folder and, when this process created UPLOAD_DIR, what it created of it if empty. */
  close(): void;
}

/** Options for `openSpoolFolder`; tests pass a faulty writer. */
export interface SpoolFolderOptions {
  openWrite?: OpenWrite;
  now?: () => number;
}

/**
 * Creates the process's private folder in `uploadDir` (creating `uploadDir` if needed), sweeps
 * what dead processes left, and keeps the heartbeat going. Throws when `uploadDir` cannot be used:
 * that is a start-up error, not a 500 per upload.
 */
export function openSpoolFolder(uploadDir: string, options: SpoolFolderOptions = {}): SpoolFolder {
  const now = options.now ?? Date.now;
  const self = currentOwner();
  let created: string | undefined;
  let dir: string;
  let swept: string[];
  try {
    // The first folder mkdir had to create, if any: a clean exit takes away what it made (SPEC).
    created = mkdirSync(uploadDir, { recursive: true });
    swept = sweepDeadFolders(uploadDir, self, now()).removed;
    dir = path.join(uploadDir, folderName(self));
    mkdirSync(dir, { mode: 0o700 }); // not recursive: it fails rather than reuse a folder that exists
    chmodSync(dir, 0o700); // the umask can only have removed bits; this says what we mean
  } catch (error) {
    throw new Error(`UPLOAD_DIR: ${(error as Error).message}`);
  }
  const heartbeat = setInterval(() => {
    try {
      const t = new Date(now());
      utimesSync(dir, t, t);
    } catch {
      // The folder is gone (removed by hand): uploads will fail and say so; nothing to do here.
    }
  }, HEARTBEAT_MS);
  heartbeat.unref();
  let closed = false;
  return {
    dir,
    swept,
    openWrite: options.openWrite ?? openPrivateFile,
    close() {
      if (closed) return;
      closed = true;
      clearInterval(heartbeat);
      rmSync(dir, { recursive: true, force: true });
      if (created === undefined) return;
      // Each folder this process created, innermost first, and only while empty: another process
      // may have come to share it.
      for (let d = path.resolve(uploadDir); ; d = path.dirname(d)) {
        try {
          rmdirSync(d);
        } catch {
          return;
        }
        if (d === path.resolve(created)) return;
      }
    },
  };
}
