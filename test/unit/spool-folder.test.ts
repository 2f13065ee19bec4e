import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  currentOwner,
  FOREIGN_DEAD_MS,
  folderName,
  openSpoolFolder,
  parseFolderName,
  procStart,
  sweepDeadFolders,
} from '../../src/upload/spool-folder.js';
import { tempDir } from '../helpers/kit.js';

describe('spool folder names and the sweep (SPEC "Privacy of uploads")', () => {
  const self = currentOwner();
  const NOW = Date.now();

  /** Makes a folder named for `owner` holding one file, with its mtime `ageMs` ago. */
  function leftover(dir: string, owner: typeof self, ageMs = 0): string {
    const name = folderName(owner);
    mkdirSync(path.join(dir, name));
    writeFileSync(path.join(dir, name, 'upload-x'), 'voice');
    const t = new Date(NOW - ageMs);
    utimesSync(path.join(dir, name), t, t);
    return name;
  }

  it('a name states its owner; names that are not ours parse to nothing', () => {
    expect(parseFolderName(folderName(self))).toEqual(self);
    for (const other of ['truedy-bff.x', 'something-else', 'truedy-bff.h.b.12.x.deadbeef', '.owner']) {
      expect(parseFolderName(other)).toBeUndefined();
    }
  });

  it('removes folders of dead processes on this host, keeps live ones and everything not ours', () => {
    const dir = tempDir();
    const live = leftover(dir, self); // this very process: its own folders are never swept
    // Another live process of this host: jest's parent, with its real start time.
    const sibling = leftover(dir, { ...self, pid: process.ppid, start: procStart(process.ppid) });
    const deadPid = leftover(dir, { ...self, pid: 2 ** 22 + 7 }); // above pid_max: never runs
    const reused = leftover(dir, { ...self, start: String(Number(self.start) + 1) }); // our pid, another start
    const rebooted = leftover(dir, { ...self, boot: 'otherboot' });
    writeFileSync(path.join(dir, 'not-ours.txt'), 'x');
    mkdirSync(path.join(dir, 'someone-elses-folder'));
    const { removed } = sweepDeadFolders(dir, self, NOW);
    expect(removed.sort()).toEqual([deadPid, reused, rebooted].sort());
    expect(readdirSync(dir).sort()).toEqual([live, sibling, 'not-ours.txt', 'someone-elses-folder'].sort());
  });

  it('a folder of another host is dead only once its heartbeat is stale', () => {
    const dir = tempDir();
    const fresh = leftover(dir, { ...self, host: 'other-host' }, FOREIGN_DEAD_MS - 60_000);
    const stale = leftover(dir, { ...self, host: 'far-host' }, FOREIGN_DEAD_MS + 60_000);
    expect(sweepDeadFolders(dir, self, NOW).removed).toEqual([stale]);
    expect(readdirSync(dir)).toEqual([fresh]);
  });

  it('opens a private folder per service and removes it on close, with what it created of UPLOAD_DIR', () => {
    const base = tempDir();
    const uploadDir = path.join(base, 'a', 'b');
    const one = openSpoolFolder(uploadDir);
    const two = openSpoolFolder(uploadDir);
    expect(one.dir).not.toBe(two.dir);
    expect(readdirSync(uploadDir)).toHaveLength(2); // the second did not sweep the first: same live owner
    two.close();
    one.close();
    expect(readdirSync(base)).toEqual([]);
  });

  it('an UPLOAD_DIR that cannot be used throws at start-up', () => {
    const file = path.join(tempDir(), 'file');
    writeFileSync(file, 'x');
    expect(() => openSpoolFolder(path.join(file, 'spool'))).toThrow();
  });
});
