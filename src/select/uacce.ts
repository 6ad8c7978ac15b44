/**
 * How the inquiry matches and ranks a UACCE device, which has none of WarpDrive's `wdev/`
 * attributes nor the per-type levels. The rules, beside the WarpDrive ones in select.ts:
 *
 * - zone: the parent device's NUMA node (`zoneId`, `null` when none);
 * - priority: neutral, ranked as 0 (a WarpDrive device's default);
 * - throughput and latency: neutral, ranked (and checked against `minThroughput` /
 *   `maxLatency`) as the average level 10;
 * - free instances: `available_instances` (free queues); 0 is rejected ("no free queue"),
 *   and a device whose driver does not report it ranks as 0 but is still tried;
 * - `isolate` 1 (isolated after hardware errors) is rejected with that reason;
 * - the `api` must be an accepted one, as `device_api` is;
 * - `flags` criteria are WarpDrive's vocabulary: a UACCE device offers `WD_CAPA_SGL_MEM`
 *   when it has SVA (it reaches any page of the process by address) and no other bit;
 * - `wdType` criteria reject it (UACCE has no `wd_type`).
 *
 * @module
 */
import type { Accelerator, AcceleratorType } from "../sysfs/model.ts";
import { formatFlags, WD_CAPA_SGL_MEM } from "../sysfs/parse.ts";

/** The level a device without `latency`/`throughput` attributes is ranked at: the spec's average. */
export const NEUTRAL_LEVEL = 10;
/** The priority a device without a `priority` attribute is ranked at: the default. */
export const NEUTRAL_PRIORITY = 0;

/** The WarpDrive capability bits a UACCE device offers: `WD_CAPA_SGL_MEM` with SVA, else none. */
export function uacceCapabilities(d: Accelerator): number {
  return d.uacce?.sva === true ? WD_CAPA_SGL_MEM : 0;
}

/** What of the criteria the UACCE rules read (a structural part of `Criteria`). */
export interface UacceAsk {
  readonly wdType?: string;
  readonly flags?: number;
  readonly minThroughput?: number;
  readonly maxLatency?: number;
  readonly zone?: number;
  readonly prefer?: "throughput" | "latency";
}

/** Why a UACCE device × algorithm cannot be chosen, or null when it can. */
export function uacceRejection(d: Accelerator, t: AcceleratorType, c: UacceAsk, apis: readonly string[]): string | null {
  if (d.problems.length > 0) return `bad device attributes: ${d.problems.join("; ")}`;
  if (c.wdType !== undefined) return `a UACCE device has no wd_type (asked for "${c.wdType}")`;
  const want = (c.flags ?? 0) >>> 0;
  const offered = uacceCapabilities(d);
  if ((offered & want) >>> 0 !== want) {
    const sva = d.uacce?.sva === true ? "SVA" : "no SVA";
    return `UACCE flags ${d.uacce?.flags} (${sva}) offer ${formatFlags(offered)}, lacking ${
      formatFlags((want & ~offered) >>> 0)
    } (asked for ${formatFlags(want)}; SGL_MEM needs SVA)`;
  }
  if (!apis.includes(t.deviceApi ?? "")) {
    const accepted = apis.length === 0 ? "none registered" : apis.map((a) => `"${a}"`).join(", ");
    return `no user-space driver for api "${t.deviceApi}" (accepted: ${accepted})`;
  }
  if (d.uacce?.isolate === 1) return "isolated after hardware errors (isolate 1)";
  if (c.minThroughput !== undefined && NEUTRAL_LEVEL < c.minThroughput) {
    return `throughput not shown (ranked as ${NEUTRAL_LEVEL}) is below the minimum ${c.minThroughput}`;
  }
  if (c.maxLatency !== undefined && NEUTRAL_LEVEL > c.maxLatency) {
    return `latency not shown (ranked as ${NEUTRAL_LEVEL}) is above the maximum ${c.maxLatency}`;
  }
  if (t.availableInstances === 0) return "no free queue (available_instances 0)";
  return null;
}

/** How an accepted UACCE candidate ranks, in words. */
export function uacceRankReason(d: Accelerator, t: AcceleratorType, c: UacceAsk): string {
  const parts = [`priority neutral (${NEUTRAL_PRIORITY})`];
  if (c.zone !== undefined) {
    parts.push(d.zoneId === c.zone ? `in zone ${c.zone} (NUMA node)` : d.zoneId === null ? "no NUMA node" : `zone ${d.zoneId} (NUMA node)`);
  }
  parts.push(`${c.prefer === "latency" ? "latency" : "throughput"} neutral (${NEUTRAL_LEVEL})`);
  parts.push(t.availableInstances === null ? "free queues not reported" : `${t.availableInstances} free queue(s)`);
  return parts.join(", ");
}
