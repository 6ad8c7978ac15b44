import { afterAll, describe, expect, test } from "bun:test";
import * as os from "node:os";
import { wdDummyV1Driver as drv } from "../../src/drivers/wd_dummy_v1.ts";
import * as L from "../../src/drivers/wd_dummy_v1_layout.ts";
import { barrierInfo, chooseBarrierBackend, configureBarrier, type Doorbell32, doorbell32, doorbell64 } from "../../src/sys/barrier.ts";
import { MappedMemory } from "../../src/sys/mman.ts";
import { barrierLibrary, removeBarrierLibrary } from "./_barrier_lib.ts";
import { FakeDummyDevice } from "./_fake_wd_dummy.ts";

afterAll(() => {
  configureBarrier({ backend: "auto" });
  removeBarrierLibrary();
});

describe("the documented backend policy", () => {
  test("x86-64 keeps Atomics.store even when the C library loads; other architectures use the C doorbell when it loads", () => {
    expect(chooseBarrierBackend("x64", true).backend).toBe("js");
    expect(chooseBarrierBackend("x64", false).backend).toBe("js");
    expect(chooseBarrierBackend("x64", true).note).toBeUndefined();
    expect(chooseBarrierBackend("arm64", true).backend).toBe("c");
    expect(chooseBarrierBackend("riscv64", true).backend).toBe("c");
    expect(chooseBarrierBackend("arm64", false).backend).toBe("js");
    expect(chooseBarrierBackend("riscv64", false).backend).toBe("js");
  });

  test("arm64 without the C library falls back to Atomics.store and tells the debug callback once what that does not guarantee", () => {
    const heard: string[] = [];
    const info = configureBarrier({ arch: "arm64", library: "/nonexistent/libwd_barrier.so", onDebug: (m) => heard.push(m) });
    expect(info.backend).toBe("js");
    expect(info.library).toBeNull();
    expect(info.guarantee).toMatch(/store-release/);
    expect(info.guarantee).toMatch(/not a dsb st/);
    const notes = heard.filter((m) => /store-release/.test(m));
    expect(notes.length).toBe(1);
    expect(notes[0]).toMatch(/normal memory/);
    expect(notes[0]).toMatch(/dsb st/);
    expect(notes[0]).toMatch(/build_barrier\.sh/);
    // Deciding again, or asking, does not repeat it.
    configureBarrier({ arch: "arm64", library: "/nonexistent/libwd_barrier.so" });
    barrierInfo();
    expect(heard.filter((m) => /store-release/.test(m)).length).toBe(1);
    configureBarrier({ backend: "js", onDebug: () => {} });
  });

  test("auto on this machine chooses what the policy says for its architecture, and reports the library it found", () => {
    const lib = barrierLibrary();
    const info = configureBarrier({ library: lib });
    expect(info.arch).toBe(os.arch());
    expect(info.backend).toBe(chooseBarrierBackend(os.arch(), true).backend);
    expect(info.library).toBe(lib);
    expect(info.libraryArch).toBe(os.arch() === "x64" || os.arch() === "arm64" ? os.arch() : "portable");
    expect(barrierInfo()).toEqual(info);
  });

  test("asking for the C backend without the library fails and says how to build it", () => {
    expect(() => configureBarrier({ backend: "c", library: "/nonexistent/libwd_barrier.so" })).toThrow(/Cannot use the C doorbell barrier: "\/nonexistent\/libwd_barrier.so" does not exist; build it with `bash scripts\/build_barrier.sh`/);
    expect(() => configureBarrier({ backend: "fast" as "c" })).toThrow(TypeError);
  });
});

describe("each backend rings doorbells", () => {
  for (const backend of ["js", "c"] as const) {
    test(`the ${backend} backend stores whole 32- and 64-bit values and refuses a closed mapping`, () => {
      const info = configureBarrier(backend === "c" ? { backend, library: barrierLibrary() } : { backend });
      expect(info.backend).toBe(backend);
      const mem = MappedMemory.anonymous(4096, { label: "registers" });
      const ring32 = doorbell32(mem, 0x40);
      const ring64 = doorbell64(mem, 0x80);
      expect([ring32.backend, ring64.backend]).toEqual([backend, backend]);
      ring32(0xdeadbeef);
      ring64(0x1122334455667788n);
      expect(mem.read32(0x40)).toBe(0xdeadbeef);
      expect(mem.read64(0x80)).toBe(0x1122334455667788n);
      ring32(7);
      ring64(0xffffffffffffffffn);
      expect(mem.read32(0x40)).toBe(7);
      expect(mem.read64(0x80)).toBe(0xffffffffffffffffn);
      expect(() => doorbell32(mem, 0x42)).toThrow(RangeError);
      expect(() => doorbell32(mem, 4096)).toThrow(RangeError);
      mem.close();
      expect(() => ring32(1)).toThrow();
      expect(() => ring64(1n)).toThrow();
      expect(() => doorbell32(mem, 0x40)).toThrow(/closed/);
    });

    test(`the wd_dummy_v1 driver rings through the ${backend} backend once per batch, after every descriptor of it`, () => {
      configureBarrier(backend === "c" ? { backend, library: barrierLibrary() } : { backend });
      const dev = new FakeDummyDevice();
      try {
        const h = drv.open(dev.context());
        expect(h.ring.backend).toBe(backend);
        const real = h.ring;
        const rung: { tail: number; ids: number[] }[] = [];
        const spy = Object.assign((tail: number) => {
          // What the device could see at the moment of the doorbell: every descriptor.
          const ids = Array.from({ length: tail }, (_, i) => dev.queue.read32(i * L.WD_DUMMY_V1_REQ_SIZE + L.WD_DUMMY_V1_REQ_OFF_ID));
          rung.push({ tail, ids });
          real(tail);
        }, { backend: real.backend }) as Doorbell32;
        // The js backend's Atomics.store is written inline in the driver (ringInline); the
        // spy sees the doorbell only through the function, so route it there.
        expect(h.ringInline).toBe(backend === "js");
        Object.assign(h, { ring: spy, ringInline: false });
        const batch = Array.from({ length: 16 }, (_, i) => ({ op: "nop" as const, id: 100 + i }));
        expect(drv.submit(h, batch)).toBe(16);
        expect(rung).toEqual([{ tail: 16, ids: batch.map((r) => r.id) }]);
        expect(dev.ctrl.read32(L.WD_DUMMY_V1_REG_DOORBELL)).toBe(16);
        expect(dev.step()).toBe(16);
        expect(drv.poll(h, 32).map((c) => c.id)).toEqual(batch.map((r) => r.id));
        // And through the driver's own path again: one batch, the tail in the register.
        Object.assign(h, { ring: real, ringInline: backend === "js" });
        expect(drv.submit(h, batch)).toBe(16);
        expect(dev.ctrl.read32(L.WD_DUMMY_V1_REG_DOORBELL)).toBe(32);
        expect(dev.step()).toBe(16);
      } finally {
        dev.close();
      }
    });
  }
});
