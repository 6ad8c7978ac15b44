import { describe, expect, test } from "bun:test";
import { formatFlags, isUuid, naturalCompare, parseDecimal, parseFlags, parseInRange, parseToken } from "../../src/sysfs/parse.ts";

describe("parseDecimal", () => {
  test("accepts trimmed decimal integers, signed", () => {
    expect(parseDecimal(" 42\n")).toEqual({ ok: true, value: 42 });
    expect(parseDecimal("-100")).toEqual({ ok: true, value: -100 });
    expect(parseDecimal("+7")).toEqual({ ok: true, value: 7 });
  });
  test("refuses words, hex, floats, empty text and huge numbers with a reason", () => {
    for (const bad of ["high", "0x10", "1.5", "", "  ", "1 2", "99999999999999999999"]) {
      const p = parseDecimal(bad);
      expect(p.ok).toBe(false);
      if (!p.ok) expect(p.reason.length).toBeGreaterThan(0);
    }
  });
  test("range check names the range", () => {
    expect(parseInRange("100", 0, 99)).toEqual({ ok: false, reason: "100 is outside [0, 99]" });
    expect(parseInRange("0", 0, 99)).toEqual({ ok: true, value: 0 });
    expect(parseInRange("99", 0, 99)).toEqual({ ok: true, value: 99 }); // both ends are inside
    expect(parseInRange("-101", -100, 99)).toEqual({ ok: false, reason: "-101 is outside [-100, 99]" });
  });
});

describe("parseFlags", () => {
  test("reads hex with or without 0x, any case, trimmed", () => {
    expect(parseFlags("0x3\n")).toEqual({ ok: true, value: 3 });
    expect(parseFlags("3")).toEqual({ ok: true, value: 3 });
    expect(parseFlags("10")).toEqual({ ok: true, value: 16 });
    expect(parseFlags("0XfF")).toEqual({ ok: true, value: 255 });
    expect(parseFlags("ffffffff")).toEqual({ ok: true, value: 0xffffffff });
    expect(parseFlags("0x0000000000000001")).toEqual({ ok: true, value: 1 });
  });
  test("refuses non-hex and wider than 32 bits", () => {
    expect(parseFlags("0xzz").ok).toBe(false);
    expect(parseFlags("-1").ok).toBe(false);
    expect(parseFlags("0x").ok).toBe(false);
    expect(parseFlags("").ok).toBe(false);
    expect(parseFlags("1ffffffff")).toEqual({ ok: false, reason: 'wider than 32 bits: "1ffffffff"' });
  });
  test("formatFlags writes the sysfs form", () => {
    expect(formatFlags(0x103)).toBe("0x103");
    expect(formatFlags(0)).toBe("0x0");
  });
});

describe("parseToken", () => {
  test("trims and accepts one printable word", () => {
    expect(parseToken("wd_dummy_v1\n")).toEqual({ ok: true, value: "wd_dummy_v1" });
  });
  test("refuses empty, multi-word and binary text", () => {
    expect(parseToken("\n").ok).toBe(false);
    expect(parseToken("two words").ok).toBe(false);
    expect(parseToken("a\u0000b").ok).toBe(false);
    expect(parseToken("x".repeat(300)).ok).toBe(false);
  });
});

test("isUuid accepts the canonical form only", () => {
  expect(isUuid("83b8f4f2-509f-382f-3c1e-e6bfe0fa1001")).toBe(true);
  expect(isUuid("83B8F4F2-509F-382F-3C1E-E6BFE0FA1001")).toBe(true);
  expect(isUuid("83b8f4f2509f382f3c1ee6bfe0fa1001")).toBe(false);
  expect(isUuid("not-a-uuid")).toBe(false);
});

test("naturalCompare orders numbered ids numerically", () => {
  expect(["acc10", "acc2", "acc1", "b", "acc02"].sort(naturalCompare)).toEqual(["acc1", "acc2", "acc02", "acc10", "b"]);
});
