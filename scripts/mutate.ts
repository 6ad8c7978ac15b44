#!/usr/bin/env bun
/**
 * Mutation check of the library's rules: `npm run mutate`.
 *
 * Each mutation below is a small change that breaks one rule the library promises
 * (ranking order, matching, parsing ranges, teardown order, barrier order, ...). The
 * script copies the checkout to a scratch directory, applies one mutation at a time,
 * runs the unit tests there, and reports which mutations no test noticed (survivors).
 * A survivor means a rule nothing checks: write the test that catches it, or, when the
 * change is truly harmless, mark it `harmless` with the reason.
 *
 *   bun scripts/mutate.ts [--list | --check] [ID...]
 *
 * --check only verifies that every mutation still applies (its text is in its file once).
 *
 * Exit status: 0 when every mutation was caught (or is marked harmless), 1 when one
 * survived, 2 when a mutation no longer applies (its text is gone: update the list).
 */
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";

/** One change to one file: `find` must occur exactly once and becomes `replace`. */
export interface Mutation {
  readonly id: string;
  /** The rule it breaks. */
  readonly rule: string;
  readonly file: string;
  readonly find: string;
  readonly replace: string;
  /** Why surviving is acceptable, for a mutation that changes nothing observable. */
  readonly harmless?: string;
}

const SELECT = "src/select/select.ts";
const PARSE = "src/sysfs/parse.ts";
const DRIVER = "src/drivers/wd_dummy_v1.ts";
const EMU = "scripts/emu/wd_emu.c";
const UACCE = "src/uacce/queue_fd.ts";
const SELECT_UACCE = "src/select/uacce.ts";
const SYSFS_UACCE = "src/sysfs/uacce.ts";
const REACTOR = "src/sys/reactor.ts";
const LENT = "src/queue/lent.ts";

const PRIORITY_STEP = "    if (pa !== pb) return pa - pb;\n";
const ZONE_STEP = `    if (c.zone !== undefined) {
      const za = a.device.zoneId === c.zone ? 0 : 1;
      const zb = b.device.zoneId === c.zone ? 0 : 1;
      if (za !== zb) return za - zb;
    }
`;
const LEVEL_STEP = "    if (byLatency ? la !== lb : ta !== tb) return byLatency ? la - lb : tb - ta;\n";
const INSTANCES_STEP = `    const ia = a.type.availableInstances ?? 0, ib = b.type.availableInstances ?? 0;
    if (ia !== ib) return ib - ia;
`;

/** The rules and their mutations. */
export const MUTATIONS: readonly Mutation[] = [
  // Ranking (step 5): priority → zone → throughput/latency → available_instances → id.
  { id: "rank-zone-before-priority", rule: "priority ranks before the caller's zone", file: SELECT, find: PRIORITY_STEP + ZONE_STEP, replace: ZONE_STEP + PRIORITY_STEP },
  { id: "rank-instances-before-level", rule: "the performance level ranks before available_instances", file: SELECT, find: LEVEL_STEP + INSTANCES_STEP, replace: INSTANCES_STEP + LEVEL_STEP },
  { id: "rank-priority-descending", rule: "smaller priority is preferred", file: SELECT, find: "if (pa !== pb) return pa - pb;", replace: "if (pa !== pb) return pb - pa;" },
  { id: "rank-zone-inverted", rule: "the caller's zone is preferred", file: SELECT, find: "if (za !== zb) return za - zb;", replace: "if (za !== zb) return zb - za;" },
  { id: "rank-throughput-ascending", rule: "higher throughput is preferred", file: SELECT, find: "return byLatency ? la - lb : tb - ta;", replace: "return byLatency ? la - lb : ta - tb;" },
  { id: "rank-latency-descending", rule: "lower latency is preferred when asked", file: SELECT, find: "return byLatency ? la - lb : tb - ta;", replace: "return byLatency ? lb - la : tb - ta;" },
  { id: "rank-prefer-ignored", rule: "prefer: latency switches the level compared", file: SELECT, find: 'const byLatency = c.prefer === "latency";', replace: "const byLatency = false;" },
  { id: "rank-instances-ascending", rule: "more available instances are preferred", file: SELECT, find: "if (ia !== ib) return ib - ia;", replace: "if (ia !== ib) return ia - ib;" },
  { id: "rank-id-reversed", rule: "ties go to the device id in natural order", file: SELECT, find: "return naturalCompare(a.device.id, b.device.id) ||", replace: "return naturalCompare(b.device.id, a.device.id) ||" },
  // Matching (steps 2-4).
  { id: "match-name-prefix", rule: "the algorithm matches a type's name exactly", file: SELECT, find: "if (t.name !== c.alg) {", replace: 'if (!(t.name ?? "").startsWith(c.alg)) {' },
  { id: "match-flags-any-bit", rule: "every requested flag bit must be set", file: SELECT, find: "if ((flags & want) >>> 0 !== want >>> 0) {", replace: "if (want !== 0 && (flags & want) >>> 0 === 0) {" },
  { id: "match-api-unchecked", rule: "device_api needs a registered driver or the caller's consent", file: SELECT, find: 'if (!apis.includes(t.deviceApi ?? "")) {', replace: "if (apis.length < 0) {" },
  { id: "match-wdtype-ignored", rule: "wd_type filters when asked", file: SELECT, find: "if (c.wdType !== undefined && t.wdType !== c.wdType)", replace: "if (c.wdType === null && t.wdType !== c.wdType)" },
  { id: "match-disabled-accepted", rule: "a disabled device is never chosen", file: SELECT, find: "if (!d.enabled) return", replace: "if (d.enabled === null) return" },
  { id: "match-create-unasked", rule: "no mdev is created unless the caller allows it", file: SELECT, find: "if (!c.allowCreate) {", replace: "if (c.allowCreate === null) {" },
  { id: "match-no-capacity", rule: "creating needs available_instances > 0", file: SELECT, find: "if ((t.availableInstances ?? 0) <= 0) return", replace: "if ((t.availableInstances ?? 0) < 0) return" },
  { id: "match-min-throughput-edge", rule: "minThroughput is inclusive", file: SELECT, find: "(t.throughput ?? 0) < c.minThroughput", replace: "(t.throughput ?? 0) <= c.minThroughput" },
  { id: "match-max-latency-edge", rule: "maxLatency is inclusive", file: SELECT, find: "(t.latency ?? 0) > c.maxLatency", replace: "(t.latency ?? 0) >= c.maxLatency" },
  { id: "match-bad-type-accepted", rule: "a type with bad attributes is rejected", file: SELECT, find: "if (t.problems.length > 0) return", replace: "if (t.problems.length > 99) return" },
  // UACCE devices in the inquiry (src/select/uacce.ts, src/sysfs/uacce.ts).
  { id: "uacce-isolated-accepted", rule: "an isolated UACCE device is never chosen", file: SELECT_UACCE, find: "if (d.uacce?.isolate === 1) return", replace: "if (d.uacce?.isolate === 7) return" },
  { id: "uacce-no-free-queue-accepted", rule: "a UACCE device with no free queue is rejected", file: SELECT_UACCE, find: "if (t.availableInstances === 0) return", replace: "if (t.availableInstances === -1) return" },
  { id: "uacce-api-unchecked", rule: "a UACCE device's api needs a registered driver or the caller's consent", file: SELECT_UACCE, find: 'if (!apis.includes(t.deviceApi ?? "")) {', replace: "if (apis.length < 0) {" },
  { id: "uacce-sgl-without-sva", rule: "a UACCE device offers SGL_MEM only with SVA", file: SELECT_UACCE, find: "return d.uacce?.sva === true ? WD_CAPA_SGL_MEM : 0;", replace: "return WD_CAPA_SGL_MEM;" },
  { id: "uacce-priority-not-neutral", rule: "a UACCE device ranks at priority 0", file: SELECT, find: "const pa = a.device.priority ?? NEUTRAL_PRIORITY;", replace: "const pa = a.device.priority ?? -1;" },
  { id: "uacce-level-not-neutral", rule: "a UACCE device ranks at the average level 10", file: SELECT_UACCE, find: "export const NEUTRAL_LEVEL = 10;", replace: "export const NEUTRAL_LEVEL = 11;" },
  { id: "uacce-class-unfiltered", rule: "the classes criterion narrows the candidates", file: SELECT, find: "if (c.classes !== undefined && !c.classes.includes(d.class)) return", replace: "if (c.classes === null) return" },
  { id: "uacce-numa-minus-one-kept", rule: "a NUMA node of -1 is none", file: SYSFS_UACCE, find: "value: p.value === -1 ? null : p.value", replace: "value: p.value" },
  { id: "uacce-negative-instances-kept", rule: "a negative available_instances is the driver's error, not a count", file: SYSFS_UACCE, find: "value: p.value < 0 ? null : p.value", replace: "value: p.value" },
  { id: "uacce-enodev-is-problem", rule: "available_instances refused with ENODEV (no driver operation) is not a problem", file: SYSFS_UACCE, find: 'if (code === "ENODEV" && absent === "driver-op") return null;', replace: "" },
  // Parsing ranges and formats.
  { id: "parse-priority-min", rule: "priority's range starts at -100", file: PARSE, find: "export const PRIORITY_MIN = -100;", replace: "export const PRIORITY_MIN = -101;" },
  { id: "parse-priority-max", rule: "priority's range ends at 99", file: PARSE, find: "export const PRIORITY_MAX = 99;", replace: "export const PRIORITY_MAX = 100;" },
  { id: "parse-level-max", rule: "levels end at 99", file: PARSE, find: "export const LEVEL_MAX = 99;", replace: "export const LEVEL_MAX = 100;" },
  { id: "parse-range-exclusive", rule: "a range includes its maximum", file: PARSE, find: "if (p.value < min || p.value > max) {", replace: "if (p.value < min || p.value >= max) {" },
  { id: "parse-decimal-trailing", rule: "a decimal value is digits only", file: PARSE, find: "const DECIMAL = /^[+-]?[0-9]+$/;", replace: "const DECIMAL = /^[+-]?[0-9]+/;" },
  { id: "parse-flags-need-0x", rule: "flags are hex with or without 0x", file: PARSE, find: "const HEX = /^(?:0[xX])?([0-9a-fA-F]+)$/;", replace: "const HEX = /^(?:0[xX])([0-9a-fA-F]+)$/;" },
  { id: "parse-flags-width", rule: "flags wider than 32 bits are refused", file: PARSE, find: "if (digits.length > 8)", replace: "if (digits.length > 9)" },
  { id: "parse-natural-lexical", rule: "device ids compare digit runs as numbers", file: PARSE, find: "if (dx && dy) {", replace: "if (dx && dy && false) {" },
  // Teardown order: devices → DMA → groups → container; regions → irqs → device fd.
  {
    id: "teardown-dma-before-devices",
    rule: "a container closes its devices before it unmaps DMA",
    file: "src/vfio/container.ts",
    find: "    for (const g of groups) steps.push(() => g.closeDevices());\n    steps.push(() => this.#iommu.releaseAll());\n",
    replace: "    steps.push(() => this.#iommu.releaseAll());\n    for (const g of groups) steps.push(() => g.closeDevices());\n",
  },
  {
    id: "teardown-container-before-groups",
    rule: "groups are closed before the container fd",
    file: "src/vfio/container.ts",
    find: "    for (const g of groups) steps.push(() => g.close());\n    steps.push(() => this.#fd.close());\n",
    replace: "    steps.push(() => this.#fd.close());\n    for (const g of groups) steps.push(() => g.close());\n",
    harmless:
      "each attached group holds a kernel reference to its container, so the container lives until the last group closes whichever fd closes first, and by then the library has unmapped all DMA and no longer uses the container fd",
  },
  {
    id: "teardown-irqs-before-regions",
    rule: "a device unmaps its regions before it disables its interrupts",
    file: "src/vfio/device.ts",
    find: "    for (const r of this.#regions.values()) steps.push(() => r.close());\n    for (const irq of this.#irqs.values()) steps.push(() => irq.close());\n",
    replace: "    for (const irq of this.#irqs.values()) steps.push(() => irq.close());\n    for (const r of this.#regions.values()) steps.push(() => r.close());\n",
    harmless:
      "regions and interrupts are independent: unmapping a BAR and disabling its eventfds can happen in either order, and both precede the device fd's close, which is the order that matters",
  },
  // A queue's release: stop the device, close it, and only then unmap the memory it reaches.
  {
    id: "teardown-queue-unmap-before-close",
    rule: "a queue unmaps its DMA only after the device is closed",
    file: "src/queue/teardown.ts",
    find: "    () => port.closeDevice(),\n    ...[...parts.dma].reverse().map((b) => () => b.close()),\n",
    replace: "    ...[...parts.dma].reverse().map((b) => () => b.close()),\n    () => port.closeDevice(),\n",
  },
  {
    id: "teardown-queue-quiesce-last",
    rule: "a queue stops its device before anything else",
    file: "src/queue/teardown.ts",
    find: "  if (d.quiesce !== undefined) steps.push(() => d.quiesce!(handle));\n  steps.push(\n",
    replace: "  steps.push(\n",
  },
  {
    id: "wait-no-recheck-after-arm",
    rule: "a wait reaps once more after arming the interrupt, so a completion between the two is not lost",
    file: "src/queue/dispatch.ts",
    find: "            if (this.#reap() > 0) continue;\n            await this.#irq.wait",
    replace: "            await this.#irq.wait",
  },
  // A UACCE queue: each region mapped once per fd; given back with PUT_Q, then unmap, then close.
  {
    id: "uacce-map-twice",
    rule: "a UACCE region is mapped once per fd and the mapping reused (Linux 6.1 refuses a second)",
    file: UACCE,
    find: "    if (known !== undefined) return known;\n",
    replace: "",
  },
  {
    id: "uacce-unmap-before-put",
    rule: "a UACCE queue is put (PUT_Q) before its regions are unmapped",
    file: UACCE,
    find: "const steps = [...(this.#removed === undefined ? [put] : []), ...unmaps, close];",
    replace: "const steps = [...unmaps, ...(this.#removed === undefined ? [put] : []), close];",
  },
  {
    id: "uacce-close-before-unmap",
    rule: "a UACCE queue's regions are unmapped before its fd is closed",
    file: UACCE,
    find: "[put] : []), ...unmaps, close];",
    replace: "[put] : []), close, ...unmaps];",
  },
  {
    id: "uacce-check-einval-not-alive",
    rule: "the removal check takes the probe's EINVAL (a started queue) as alive",
    file: UACCE,
    find: "if (e === EINVAL || e === 0) return;",
    replace: "if (e === 0) return;",
  },
  {
    id: "uacce-check-any-errno-removed",
    rule: "only ENXIO from the removal probe means the driver was removed; another errno is a SyscallError",
    file: UACCE,
    find: "if (e !== ENXIO) throw new SyscallError(",
    replace: "if (e === -1) throw new SyscallError(",
  },
  {
    id: "ioctl-errno-on-success",
    rule: "ioctlErrno answers 0 for a call that succeeded, whatever errno held before",
    file: "src/sys/fd.ts",
    find: "  return r < 0 ? e : 0;\n",
    replace: "  return r <= 0 ? e : 0;\n",
  },
  {
    id: "uacce-driver-unchecked",
    rule: "a driver call on a UACCE queue checks first that the driver was not removed",
    file: "src/queue/port.ts",
    find: "  if (check === undefined) return driver;",
    replace: "  if (check !== null) return driver;",
  },
  {
    id: "uacce-readiness-ignored",
    rule: "a UACCE queue's waits sleep on the fd's readiness, not on timers",
    file: "src/queue/port.ts",
    find: "  if (port.readiness !== undefined) return port.readiness();\n",
    replace: "",
  },
  // run's hot path: ids in the descriptors it encodes, records reused only when nothing can outlive them.
  {
    id: "run-id-not-encoded",
    rule: "run writes the id it assigns into the request's descriptor",
    file: "src/queue/dispatch.ts",
    find: "        words[at + enc.idWord] = id;\n",
    replace: "",
  },
  {
    id: "run-record-reused-with-timer",
    rule: "a run's record is reused only when it never had a timer or signal",
    file: "src/queue/_runs.ts",
    find: "const reusable = untimed && signal === undefined;",
    replace: "const reusable = true;",
  },
  {
    id: "reap-encoded-skips-routing",
    rule: "completions reaped as words settle their run by id",
    file: "src/queue/dispatch.ts",
    find: "if (!this.#routed(words[at + enc.completionIdWord] as number, words, at, undefined)) pending.pushWords(words, at);",
    replace: "pending.pushWords(words, at);",
  },
  // poll's direct path (the driver's objects straight off the ring) only when nothing else shares the queue.
  {
    id: "poll-direct-with-runs",
    rule: "poll goes straight to the ring only when no run is on it (a run's completion settles its promise)",
    file: "src/queue/dispatch.ts",
    find: "return this.#pending.length === 0 && this.#inflight.size === 0 && ",
    replace: "return this.#pending.length === 0 && ",
  },
  {
    id: "poll-direct-with-backlog",
    rule: "a poll that makes ring room sends the runs waiting for it",
    file: "src/queue/dispatch.ts",
    find: " && this.#backlog.waiting === 0 && this.#dropped.size === 0",
    replace: " && this.#dropped.size === 0",
  },
  {
    id: "poll-direct-with-dropped",
    rule: "poll never returns the late completion of a run given up",
    file: "src/queue/dispatch.ts",
    find: " && this.#dropped.size === 0 && this.#consumers.length === 0;",
    replace: " && this.#consumers.length === 0;",
  },
  {
    id: "poll-direct-with-waiters",
    rule: "a pending wait() is served before poll takes completions",
    file: "src/queue/dispatch.ts",
    find: " && this.#consumers.length === 0;\n  }",
    replace: ";\n  }",
  },
  {
    id: "poll-direct-past-pending",
    rule: "completions already reaped come out of poll first, in order",
    file: "src/queue/dispatch.ts",
    find: "return this.#pending.length === 0 && this.#inflight.size === 0",
    replace: "return this.#inflight.size === 0",
  },
  {
    id: "run-during-reaper-microtask-unsent",
    rule: "a run made while the reaper awaits its microtask goes out when the reaper resumes",
    file: "src/queue/dispatch.ts",
    find: "            if (this.#flushScheduled) this.#flush();\n",
    replace: "",
  },
  {
    id: "run-never-queues-flush",
    rule: "a run made while the reaper is not between two microtasks goes out in a microtask of its own",
    file: "src/queue/dispatch.ts",
    find: "if (!this.#pumpFlushes) queueMicrotask(this.#flushTask);",
    replace: "if (this.#pumpFlushes) queueMicrotask(this.#flushTask);",
  },
  {
    id: "spin-past-a-completion",
    rule: "the reaper's spin stops at the first completion and lets its run settle",
    file: "src/queue/dispatch.ts",
    find: "while (got === 0 && performance.now() < until) got = this.#reap();",
    replace: "while (performance.now() < until) got += this.#reap();",
  },
  {
    id: "reaper-starves-event-loop",
    rule: "a reaper that keeps finding completions still yields a whole turn of the event loop every TURN_MS",
    file: "src/queue/dispatch.ts",
    find: "if (now - lastTurn < TURN_MS) {",
    replace: "if (now >= 0) {",
  },
  {
    id: "fast-path-absent-dst",
    rule: "the driver's fast path stores an absent dst as 0, as the checked path does",
    file: DRIVER,
    find: "dst = rdst === undefined ? 0 : rdst;",
    replace: "dst = rdst === undefined ? 1 : rdst;",
  },
  // Barrier order: every descriptor is in the ring before the doorbell that publishes it.
  {
    id: "barrier-encoded-doorbell-first",
    rule: "submitEncoded stores the doorbell after copying the descriptors",
    file: DRIVER,
    find: "  let from = first * REQ_WORDS;\n  for (let i = 0; i < n; i++) {",
    replace: "  let from = first * REQ_WORDS;\n  if (h.ringInline) Atomics.store(h.regs, R_DOORBELL, (tail + n) >>> 0);\n  else h.ring((tail + n) >>> 0);\n  for (let i = 0; i < n; i++) {",
  },
  {
    id: "barrier-submit-doorbell-first",
    rule: "submit stores the doorbell after writing the descriptors",
    file: DRIVER,
    find: "    if (!putFast(sq, w, r)) putChecked(sq, w, r);\n    tail = (tail + 1) >>> 0;\n",
    replace: "    tail = (tail + 1) >>> 0;\n    if (h.ringInline) Atomics.store(h.regs, R_DOORBELL, tail);\n    else h.ring(tail);\n    if (!putFast(sq, w, r)) putChecked(sq, w, r);\n",
  },
  // Completions read are given back (CQ_HEAD) before the next look or arming, and before a loan.
  {
    id: "wd-head-kept-when-full",
    rule: "the driver gives the completion head back before a doorbell the device would find no completion slot for",
    file: DRIVER,
    find: "  if (n > 0 && ((tail + n - h.cqHeadOut) >>> 0) > h.cqEntries) giveHead(h);\n",
    replace: "",
  },
  {
    id: "wd-head-kept-on-look",
    rule: "a look for completions first gives the device the completions already read",
    file: "src/drivers/wd_dummy_v1_cq.ts",
    find: "function ready(h: CompletionRing): number {\n  if (h.cqHeadOut !== h.cqHead) giveHead(h);\n",
    replace: "function ready(h: CompletionRing): number {\n",
  },
  {
    id: "wd-head-kept-on-arm",
    rule: "arming the interrupt first gives the device the completions read (it fires while CQ_HEAD is short of CQ_TAIL)",
    file: DRIVER,
    find: "function arm(h: DummyHandle): void {\n  // The device fires while CQ_HEAD is short of CQ_TAIL: it has to see what was read.\n  if (h.cqHeadOut !== h.cqHead) giveHead(h);\n",
    replace: "function arm(h: DummyHandle): void {\n",
  },
  {
    id: "wd-head-kept-on-lend",
    rule: "a ring is lent with the device at the queue's completion head",
    file: DRIVER,
    find: "function lend(h: DummyHandle): RingParts {\n  if (h.cqHeadOut !== h.cqHead) giveHead(h);\n",
    replace: "function lend(h: DummyHandle): RingParts {\n",
  },
  // The reactor: an fd whose registration fired lingers disarmed; nothing else lingers or keeps a call outstanding.
  {
    id: "reactor-linger-armed",
    rule: "only a disarmed fd (its registration fired) lingers; an fd whose last wait leaves armed is removed",
    file: REACTOR,
    find: "      if (!it.armed) this.#linger(it);\n",
    replace: "      if (true) this.#linger(it);\n",
  },
  {
    id: "reactor-cancel-keeps-lingering",
    rule: "cancel removes a lingering fd from the epoll set before its fd is closed",
    file: REACTOR,
    find: "    for (const w of [...it.waiters]) this.#settle(w, error, false);\n    this.#forget(it);\n",
    replace: "    for (const w of [...it.waiters]) this.#settle(w, error, false);\n",
  },
  {
    id: "reactor-no-add-on-enoent",
    rule: "a lingering fd's reused number (MOD fails with ENOENT) is added afresh",
    file: REACTOR,
    find: "if (e !== ENOENT && e !== EBADF) throw ctlError(EPOLL_CTL_MOD, fd, label, e);",
    replace: "throw ctlError(EPOLL_CTL_MOD, fd, label, e);",
  },
  {
    id: "reactor-pump-on-fds",
    rule: "epoll_wait is outstanding only while a wait is pending, not while an fd lingers",
    file: REACTOR,
    find: "if (this.#outstanding > 0 || this.#waits === 0) return;",
    replace: "if (this.#outstanding > 0 || this.#byFd.size === 0) return;",
  },
  // The rings lent in place: every move bounded by what the ring gave, and the loan exclusive.
  { id: "lent-publish-unreserved", rule: "a lent ring publishes only slots it reserved", file: LENT, find: "n >>> 0 === n && n <= this.#reserved)) this.#outside", replace: "n >>> 0 === n)) this.#outside" },
  { id: "lent-consume-unready", rule: "a lent ring frees only completions the device wrote", file: LENT, find: "n >>> 0 === n && n <= this.#ready)) this.#outside", replace: "n >>> 0 === n)) this.#outside" },
  { id: "lent-slot-unreserved", rule: "a lent ring's slot(i) is only a reserved slot", file: LENT, find: "i < this.#reserved)) this.#outside", replace: "i <= this.#sqMask)) this.#outside" },
  { id: "lent-past-cq-room", rule: "a lent ring never has more requests out than the completion ring holds", file: LENT, find: "return (this.#reserved = cqFree < n ? cqFree : n);", replace: "return (this.#reserved = n);" },
  { id: "lent-stale-sq-head", rule: "a lent ring reads the device's request head again when the room it knows is short", file: LENT, find: "const head = (this.#sqHead = Atomics.load(this.#regs, this.#p.sqHeadReg));", replace: "const head = this.#sqHead;" },
  { id: "lent-head-before-doorbell", rule: "a lent ring gives the completion head back after the doorbell, not between a completion and the next request", file: LENT, find: "    if (ring === undefined) Atomics.store(this.#regs, this.#doorbell, tail);\n    else ring(tail);\n    if (this.#headOut !== this.#head) this.#giveHead();\n", replace: "    if (this.#headOut !== this.#head) this.#giveHead();\n    if (ring === undefined) Atomics.store(this.#regs, this.#doorbell, tail);\n    else ring(tail);\n" },
  { id: "lent-head-kept-on-look", rule: "a lent ring gives consumed slots back before it looks for completions", file: LENT, find: "    if (this.#headOut !== this.#head) this.#giveHead();\n    const tail = Atomics.load", replace: "    const tail = Atomics.load" },
  { id: "lent-head-kept-at-end", rule: "a ring given back has given the device its consumed slots", file: LENT, find: "    if (this.#headOut !== this.#head && this.#deviceThere()) this.#giveHead();\n", replace: "" },
  { id: "lent-no-settle", rule: "a ring given back leaves the driver at the indexes the loan reached", file: LENT, find: "    this.#p.settle(this.#tail, this.#head, this.#sqHead);\n", replace: "" },
  { id: "lent-no-arm", rule: "readable() arms the completion interrupt before it sleeps", file: LENT, find: "        x.driver.arm?.(x.handle);\n", replace: "" },
  { id: "lent-sync-no-arm", rule: "readableSync() arms the completion interrupt before it blocks in poll(2)", file: "src/queue/_lent_wait.ts", find: "    if (irq?.waitSync !== undefined) {\n      w.arm();\n", replace: "    if (irq?.waitSync !== undefined) {\n" },
  { id: "lent-not-exclusive", rule: "while the ring is lent the queue's own data path refuses to run", file: "src/queue/queue.ts", find: "if (this.#lent !== undefined) throw", replace: "if (false) throw" },
  { id: "lent-not-alone", rule: "the ring is lent only when no run, wait or kept completion is on it", file: "src/queue/queue.ts", find: "if (!this.#dispatch.alone()) throw", replace: "if (false) throw" },
  { id: "lent-release-keeps-loan", rule: "releasing the queue ends the loan", file: "src/queue/queue.ts", find: "    this.#lent?.end(this.#parts.closedError);\n", replace: "" },
  // The host emulator the unit tests run the queue against must check what the module checks.
  { id: "emu-no-overlap-check", rule: "the emulator refuses overlapping copies as the module does", file: EMU, find: "\t\tif (src < dst + len && dst < src + len)\n", replace: "\t\tif (0)\n" },
  { id: "emu-unmapped-pages-reachable", rule: "the emulator reaches only DMA pages mapped (handed out and not freed)", file: EMU, find: "\t\tif (!map[p]) {", replace: "\t\tif (!map[p] && 0) {" },
  { id: "poll-ignores-events", rule: "pollNow asks poll(2) for the caller's events", file: "src/sys/poll.ts", find: "shorts[0] = events;", replace: "shorts[0] = 0;" },
  { id: "args-dash-value-taken", rule: "an option's value from the next word must not look like an option", file: "src/cli/args.ts", find: "if (!inline && optionLike(value)) throw", replace: "if (false && optionLike(value)) throw" },
  { id: "args-negative-as-option", rule: "a negative whole number on the command line is a word, not a short option", file: "src/cli/args.ts", find: "if ((given && NEGATIVE.test(arg)) ||", replace: "if ((given && false) ||" },
  { id: "args-value-letter-in-group", rule: "in -xyz a letter taking a value gets the rest of the group", file: "src/cli/args.ts", find: 'if (specOf(longOf(l))?.type !== "string" || j === arg.length - 1) words.push', replace: "if (true) words.push" },
];

/** Applies a mutation to a file's text; throws when its text is not there exactly once. */
export function apply(text: string, m: Mutation): string {
  const at = text.indexOf(m.find);
  if (at < 0) throw new Error(`mutation ${m.id}: its text is no longer in ${m.file}; update scripts/mutate.ts`);
  if (text.indexOf(m.find, at + 1) >= 0) throw new Error(`mutation ${m.id}: its text occurs more than once in ${m.file}`);
  return text.slice(0, at) + m.replace + text.slice(at + m.find.length);
}

const REPO = resolve(import.meta.dir, "..");
const COPY = ["mod.ts", "src", "tests", "c", "scripts", "bin", "package.json", "tsconfig.json"];

function main(argv: readonly string[]): number {
  if (argv.includes("--list")) {
    for (const m of MUTATIONS) console.log(`${m.id.padEnd(34)} ${m.rule}`);
    return 0;
  }
  const ids = argv.filter((a) => !a.startsWith("--"));
  const chosen = ids.length === 0 ? MUTATIONS : MUTATIONS.filter((m) => ids.includes(m.id));
  const unknown = ids.filter((a) => !MUTATIONS.some((m) => m.id === a));
  if (unknown.length > 0) {
    console.error(`mutate: no mutation named ${unknown.join(", ")} (see --list)`);
    return 2;
  }
  // Every mutation must still apply before anything runs.
  for (const m of chosen) {
    try {
      apply(readFileSync(join(REPO, m.file), "utf8"), m);
    } catch (e) {
      console.error(`mutate: ${(e as Error).message}`);
      return 2;
    }
  }
  if (argv.includes("--check")) {
    console.log(`mutate: all ${chosen.length} mutations apply`);
    return 0;
  }
  const scratch = mkdtempSync(join(tmpdir(), "wd-mutate-"));
  // Some tests run the sources as an unprivileged user: the copy must be readable as any user.
  chmodSync(scratch, 0o755);
  try {
    for (const f of COPY) cpSync(join(REPO, f), join(scratch, f), { recursive: true });
    symlinkSync(join(REPO, "node_modules"), join(scratch, "node_modules"));
    // That test checks this list against the sources, so it fails on every mutation: it
    // would catch them all and hide the survivors.
    rmSync(join(scratch, "tests", "unit", "mutate_list.test.ts"));
    const run = () =>
      spawnSync(process.execPath, ["test", "--bail", "tests/unit"], { cwd: scratch, encoding: "utf8", timeout: 300_000 });
    const base = run();
    if (base.status !== 0) {
      console.error(`mutate: the unit tests fail without any mutation; fix them first\n${base.stderr.slice(-2000)}`);
      return 1;
    }
    const survivors: Mutation[] = [];
    const harmless: Mutation[] = [];
    for (const m of chosen) {
      const file = join(scratch, m.file);
      const original = readFileSync(file, "utf8");
      writeFileSync(file, apply(original, m));
      const t0 = performance.now();
      const r = run();
      writeFileSync(file, original);
      const secs = ((performance.now() - t0) / 1000).toFixed(1);
      const caught = r.status !== 0;
      const failed = /^\(fail\) (.*)$/m.exec(r.stderr)?.[1]?.replace(/ \[[\d.]+m?s\]$/, "");
      if (caught) console.log(`caught    ${m.id.padEnd(34)} ${secs.padStart(5)} s  by: ${failed ?? `exit status ${r.status ?? r.signal}`}`);
      else if (m.harmless !== undefined) {
        harmless.push(m);
        console.log(`harmless  ${m.id.padEnd(34)} ${secs.padStart(5)} s  ${m.harmless}`);
      } else {
        survivors.push(m);
        console.log(`SURVIVED  ${m.id.padEnd(34)} ${secs.padStart(5)} s  rule: ${m.rule}`);
      }
    }
    console.log(
      `\n${chosen.length} mutations: ${chosen.length - survivors.length - harmless.length} caught, ` +
        `${harmless.length} survived as harmless, ${survivors.length} survived`,
    );
    for (const m of survivors) console.log(`  survivor ${m.id}: ${m.rule} (${m.file})`);
    return survivors.length === 0 ? 0 : 1;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (import.meta.main) process.exit(main(process.argv.slice(2)));
