import { describe, expect, it } from '@jest/globals';
import { FakeClock } from '../helpers/fake-clock.js';
import { CLONE_PATH, cloneForm, filesIn, truedy429, waitForEmptyDir, withService } from '../helpers/kit.js';

describe('a client that disconnects during the retry wait (SPEC: cancels waits and attempts)', () => {
  it('cancels the pending wait and every attempt still to come, and leaves no spooled file', async () => {
    const clock = new FakeClock();
    await withService(
      // Spooled to disk whatever the size, so "no spooled file left" means something.
      { clock, queue: [truedy429(400)], env: { MEMORY_BUFFER_FILE_BYTES: '0' } },
      async ({ url, fake, config }) => {
        const controller = new AbortController();
        const pending = fetch(`${url}${CLONE_PATH}`, {
          method: 'POST',
          body: cloneForm({ name: 'Leaving' }),
          signal: controller.signal,
        });
        await fake.waitForRequests(1);
        const [wait] = await clock.waitForSleepers(1);
        expect(filesIn(config.uploadDir)).toHaveLength(1);

        controller.abort();
        await expect(pending).rejects.toThrow();
        await clock.until('aborted retry wait', () => wait?.state === 'aborted');
        // Long past the reset, nothing is left to wake, and nothing more reached Truedy.
        clock.advance(60_000);
        expect(clock.pending).toEqual([]);
        expect(await waitForEmptyDir(config.uploadDir)).toEqual([]);
        expect(fake.received).toHaveLength(1);
      },
    );
  });
});
