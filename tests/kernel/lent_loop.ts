/**
 * The loop the kernel tier drives a lent ring with, on either class: `n` requests, at
 * most `depth` in flight; `put(slot, k)` writes request `k` into reserved slot `slot`;
 * each completion's id (word 0 in both protocols) is counted, and `check(at)` checks the
 * completion at word `at`. When nothing is ready it sleeps in `readable()`, or with
 * `sync` in `readableSync()` (the thread blocked in poll(2)).
 */
import { expect } from "bun:test";
import type { LentRing } from "../../mod.ts";

/** Runs the loop; returns how often it slept, and how often each id came back. */
export async function lentRoundTrips<Req>(
  ring: LentRing<Req>,
  n: number,
  depth: number,
  put: (slot: number, k: number) => void,
  check: (at: number) => void,
  sync = false,
): Promise<{ sleeps: number; seen: Uint8Array }> {
  const seen = new Uint8Array(n);
  let sent = 0, done = 0, sleeps = 0;
  while (done < n) {
    const m = ring.reserve(Math.min(depth - (sent - done), n - sent));
    for (let i = 0; i < m; i++, sent++) put(i, sent);
    ring.publish(m);
    let got = ring.ready();
    if (got === 0) {
      sleeps++;
      got = sync ? ring.readableSync({ timeout: 60_000 }) : await ring.readable({ timeout: 60_000 });
    }
    for (let i = 0; i < got; i++) {
      const c = ring.completion(i);
      check(c);
      seen[ring.cq[c]!]!++;
    }
    ring.consume(got);
    done += got;
  }
  expect(sleeps).toBeGreaterThan(0);
  expect(seen.every((x) => x === 1)).toBe(true);
  return { sleeps, seen };
}
