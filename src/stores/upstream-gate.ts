/**
 * Shared cooldown and pacing toward Truedy (SPEC "Shared cooldown", "Pacing"), behind one small
 * interface so the in-memory and Redis stores are interchangeable.
 */
export interface UpstreamGate {
  /**
   * Books the earliest send time at or after `now` that respects the cooldown and the pacing cap.
   * When that time lies past `deadline` nothing is booked and `ok` is false.
   */
  reserve(now: number, deadline: number): Promise<Slot>;
  /**
   * Gives back a booked slot that will not be used (its caller left while waiting, or a cooldown
   * moved it), so it no longer counts against the cap for a window.
   */
  release(slot: Slot): Promise<void>;
  /** Until when every call must hold off (epoch ms; 0 or past when none). */
  cooldownUntil(): Promise<number>;
  /** Announces a reset time learned from a 429; later ones win. */
  setCooldown(until: number): Promise<void>;
}

/** A send time the gate gave; `id` names its booking in a shared schedule. */
export interface Slot {
  ok: boolean;
  at: number;
  id?: string;
}

/** Pacing parameters: at most `limit` sends in any `windowMs` (0 = no pacing). */
export interface PacingSettings {
  limit: number;
  windowMs: number;
}

/**
 * The earliest slot for one more send given the booked send times (ascending), so that no window
 * of `windowMs` holds more than `limit` of them; slots never go backwards, which keeps arrival order.
 * The Redis store runs the same rule in Lua.
 */
export function nextSlot(
  booked: readonly number[],
  now: number,
  cooldown: number,
  p: PacingSettings,
): number {
  let at = Math.max(now, cooldown, booked.at(-1) ?? 0);
  if (p.limit > 0 && booked.length >= p.limit) {
    at = Math.max(at, (booked[booked.length - p.limit] as number) + p.windowMs);
  }
  return at;
}

/** The gate for one process. */
export function createMemoryGate(pacing: PacingSettings): UpstreamGate {
  let booked: number[] = [];
  let cooldown = 0;
  return {
    async reserve(now, deadline) {
      // Booked sends older than one window can no longer affect a future slot.
      const firstLive = booked.findIndex((t) => t > now - pacing.windowMs);
      if (firstLive !== 0) booked = firstLive === -1 ? [] : booked.slice(firstLive);
      const at = nextSlot(pacing.limit > 0 ? booked : [], now, cooldown, pacing);
      if (at > deadline) return { ok: false, at };
      if (pacing.limit > 0) booked.push(at);
      return { ok: true, at };
    },
    async release(slot) {
      // Booked times are interchangeable: any one booking at this time frees the same room.
      const i = slot.ok ? booked.indexOf(slot.at) : -1;
      if (i >= 0) booked.splice(i, 1);
    },
    async cooldownUntil() {
      return cooldown;
    },
    async setCooldown(until) {
      cooldown = Math.max(cooldown, until);
    },
  };
}
