/**
 * The process-wide allowance for upload bytes held in memory (SPEC "Configuration",
 * MEMORY_BUFFER_FILE_BYTES / MEMORY_BUFFER_TOTAL_BYTES), nginx's `client_body_buffer_size` idea:
 * a part that fits stays in memory, anything else goes to the disk spool.
 *
 * One instance per service. Bytes are reserved before they are buffered, chunk by chunk, and the
 * check and the count are one synchronous step, so requests racing each other on the event loop
 * can never take more than `totalBytes` together.
 */
export interface MemoryBudget {
  /** The largest file part held in memory; 0: none is. */
  readonly fileBytes: number;
  /** All parts held in memory by the process at once stay within this. */
  readonly totalBytes: number;
  /** Bytes reserved now. */
  readonly inUse: number;
  /** The most ever reserved at once (what the tests and the bench check against `totalBytes`). */
  readonly highWater: number;
  /** Bytes reserved and released since start; equal once nothing is held (each release happened once). */
  readonly reservedTotal: number;
  readonly releasedTotal: number;
  /** Reserves `n` bytes if they fit; false (and nothing reserved) if they do not. */
  tryReserve(n: number): boolean;
  /** Gives back `n` bytes reserved before. */
  release(n: number): void;
}

/** The two settings a budget is made from (`config.memoryBuffer`). */
export interface MemoryBudgetSettings {
  fileBytes: number;
  totalBytes: number;
}

/** Creates the process's budget; `0` for either setting turns memory buffering off (SPEC). */
export function createMemoryBudget(settings: MemoryBudgetSettings): MemoryBudget {
  const off = settings.fileBytes === 0 || settings.totalBytes === 0;
  const fileBytes = off ? 0 : Math.min(settings.fileBytes, settings.totalBytes);
  const totalBytes = off ? 0 : settings.totalBytes;
  let inUse = 0;
  let highWater = 0;
  let reservedTotal = 0;
  let releasedTotal = 0;
  return {
    fileBytes,
    totalBytes,
    get inUse() {
      return inUse;
    },
    get highWater() {
      return highWater;
    },
    get reservedTotal() {
      return reservedTotal;
    },
    get releasedTotal() {
      return releasedTotal;
    },
    tryReserve(n) {
      if (inUse + n > totalBytes) return false;
      inUse += n;
      reservedTotal += n;
      if (inUse > highWater) highWater = inUse;
      return true;
    },
    release(n) {
      // Never below zero: a bug that released twice must not grant memory nobody gave back.
      const r = Math.min(n, inUse);
      inUse -= r;
      releasedTotal += n;
    },
  };
}
