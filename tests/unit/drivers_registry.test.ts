import { afterEach, expect, test } from "bun:test";
import { findDriver, registerDriver, registeredDeviceApis, unregisterDriver } from "../../src/drivers/registry.ts";

afterEach(() => {
  unregisterDriver("test_api_v1");
  unregisterDriver("test_api_v2");
});

test("a registered driver is found by its device_api and listed, sorted", () => {
  const before = registeredDeviceApis();
  const d = { deviceApi: "test_api_v2", description: "two" };
  registerDriver(d);
  registerDriver({ deviceApi: "test_api_v1", description: "one" });
  expect(findDriver("test_api_v2")).toBe(d);
  expect(registeredDeviceApis()).toEqual([...before, "test_api_v1", "test_api_v2"].sort());
});

test("a second driver for the same api is refused", () => {
  registerDriver({ deviceApi: "test_api_v1", description: "one" });
  expect(() => registerDriver({ deviceApi: "test_api_v1", description: "again" })).toThrow(/already registered/);
  expect(findDriver("test_api_v1")?.description).toBe("one");
});

test("unregisterDriver removes it and says whether it was there", () => {
  registerDriver({ deviceApi: "test_api_v1", description: "one" });
  expect(unregisterDriver("test_api_v1")).toBe(true);
  expect(unregisterDriver("test_api_v1")).toBe(false);
  expect(findDriver("test_api_v1")).toBeUndefined();
});

test("an empty or multi-word device_api is a TypeError", () => {
  expect(() => registerDriver({ deviceApi: "", description: "" })).toThrow(TypeError);
  expect(() => registerDriver({ deviceApi: "a b", description: "" })).toThrow(TypeError);
});
