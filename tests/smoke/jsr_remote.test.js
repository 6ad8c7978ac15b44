// The package as JSR serves it: Deno fetches every module over http(s), so nothing may
// assume a file URL (the doorbell barrier once called fileURLToPath(import.meta.url) and
// threw "The URL must be of scheme file"). This serves the repository over
// http://127.0.0.1 and runs tests/smoke/remote_doorbell.ts in Deno, with an import map
// like the one JSR derives from jsr.json, except that koffi resolves to the installed copy
// (as npm:koffi resolves to Deno's npm cache) and uuid is served too, so no network is
// needed. Runs under every runtime of the smoke suite (Deno's needs --allow-net=127.0.0.1);
// the child is always Deno.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import process from "node:process";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const DENO = path.join(REPO, "node_modules", ".bin", "deno");

/** Serves the repository's files, read-only, and counts the requests. */
function serve() {
  const served = [];
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname).replace(/^\/+/, "");
    const file = path.resolve(REPO, rel);
    if (!file.startsWith(REPO) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    served.push(rel);
    const type = file.endsWith(".ts") ? "application/typescript" : "application/javascript";
    res.writeHead(200, { "content-type": type }).end(fs.readFileSync(file));
  });
  return new Promise((resolve, reject) => {
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => resolve({ server, served, port: server.address().port }));
  });
}

/** Runs a command to its end; resolves to its status and output. */
function run(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

test("from http(s), as JSR serves it, Deno opens a doorbell on a memfd and rings it", { timeout: 120_000 }, async () => {
  const { server, served, port } = await serve();
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "wd-remote-"));
  try {
    const base = `http://127.0.0.1:${port}/`;
    const jsr = JSON.parse(fs.readFileSync(path.join(REPO, "jsr.json"), "utf8"));
    const imports = {
      koffi: pathToFileURL(path.join(REPO, "node_modules", "koffi", "index.js")).href,
      uuid: `${base}node_modules/uuid/dist/index.js`,
    };
    for (const [sub, file] of Object.entries(jsr.exports)) imports[`warpdrive${sub.slice(1)}`] = new URL(file, base).href;
    const map = path.join(scratch, "import_map.json");
    fs.writeFileSync(map, JSON.stringify({ imports }));
    const r = await run(
      DENO,
      ["run", "--quiet", "--no-lock", `--import-map=${map}`, `--allow-net=127.0.0.1:${port}`, "--allow-ffi", "--allow-read", "--allow-env",
        `${base}tests/smoke/remote_doorbell.ts`],
      { ...process.env, DENO_DIR: path.join(scratch, "deno"), NO_COLOR: "1" },
    );
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout);
    assert.equal(got.module, `${base}tests/smoke/remote_doorbell.ts`);
    assert.equal(got.library, `${base}src/sys/mod.ts`);
    assert.equal(got.backend, got.info);
    assert.equal(got.mapped, 0x5eed);
    assert.equal(got.file, 0x5eed);
    // The library itself came over http, not from the disk.
    assert.ok(served.includes("src/sys/barrier.ts"), served.join(" "));
    assert.ok(served.includes("src/sys/_ffi.ts"), served.join(" "));
  } finally {
    server.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
});
