import { afterEach, expect, test } from "bun:test";
import { findDriver, registerDriver, registeredDeviceApis, unregisterDriver } from "../../src/drivers/mod.ts";
import { driverFor } from "./_drivers.ts";

afterEach(() => {
  unregisterDriver("test_api_v1");
  unregisterDriver("test_api_v2");
});

test("a registered driver is found by its device_api and listed, sorted", () => {
  const before = registeredDeviceApis();
  const d = driverFor("test_api_v2");
  registerDriver(d);
  registerDriver(driverFor("test_api_v1", "one"));
  expect(findDriver("test_api_v2")).toBe(d);
  expect(registeredDeviceApis()).toEqual([...before, "test_api_v1", "test_api_v2"].sort());
});

test("a second driver for the same api is refused", () => {
  registerDriver(driverFor("test_api_v1", "one"));
  expect(() => registerDriver(driverFor("test_api_v1", "again"))).toThrow(/already registered/);
  expect(findDriver("test_api_v1")?.description).toBe("one");
});

test("unregisterDriver removes it and says whether it was there", () => {
  registerDriver(driverFor("test_api_v1", "one"));
  expect(unregisterDriver("test_api_v1")).toBe(true);
  expect(unregisterDriver("test_api_v1")).toBe(false);
  expect(findDriver("test_api_v1")).toBeUndefined();
});

test("an empty or multi-word device_api is a TypeError", () => {
  expect(() => registerDriver(driverFor(""))).toThrow(TypeError);
  expect(() => registerDriver(driverFor("a b"))).toThrow(TypeError);
});

test("a driver missing a method is a TypeError naming it", () => {
  const { poll: _poll, ...partial } = driverFor("test_api_v1");
  expect(() => registerDriver(partial as never)).toThrow(/no poll\(\) method/);
});

test("the encoded path is all or nothing: descriptorWords, encode() and submitEncoded() together", () => {
  const partial = { ...driverFor("enc_partial_v1"), descriptorWords: 4 };
  expect(() => registerDriver(partial)).toThrow(/descriptorWords, encode\(\) and submitEncoded\(\) go together/);
  const badWords = { ...driverFor("enc_bad_v1"), descriptorWords: 0, encode: () => {}, submitEncoded: () => 0 };
  expect(() => registerDriver(badWords)).toThrow(/descriptorWords 0 must be a positive integer/);
  const whole = { ...driverFor("enc_whole_v1"), descriptorWords: 4, encode: () => {}, submitEncoded: () => 0 };
  registerDriver(whole);
  try {
    expect(findDriver("enc_whole_v1")).toBe(whole);
  } finally {
    unregisterDriver("enc_whole_v1");
  }
  expect(findDriver("enc_partial_v1")).toBeUndefined();
});
