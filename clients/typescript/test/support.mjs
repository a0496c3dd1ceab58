// What the live tests share: a real `progimage serve` on a free loopback
// port with its own data directory, the storm proxy in front of one, a
// loopback file server for remote imports, and the image corpus.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** The server binary: PROGIMAGE_TEST_BINARY (ctest sets it), else the release build's. */
export const binary = process.env.PROGIMAGE_TEST_BINARY ?? join(repo, "build/release/src/app/progimage");
export const corpusDir = process.env.PROGIMAGE_TESTDATA ?? join(repo, "tests/corpus");

export function corpusPath(name) {
  return join(corpusDir, name);
}

export function corpusFile(name) {
  return readFile(corpusPath(name));
}

const started = new Set();
// A test process that dies still takes its servers with it.
process.on("exit", () => {
  for (const child of started) child.kill("SIGKILL");
});

/** Resolves with the first line for which `match` answers something, or rejects when the process ends first. */
function waitForLine(child, match, what, timeoutMs) {
  return new Promise((resolvePromise, reject) => {
    const lines = [];
    const timer = setTimeout(() => fail(new Error(`${what} did not start within ${timeoutMs} ms:\n${lines.join("\n")}`)), timeoutMs);
    const readers = [child.stdout, child.stderr].map((stream) => createInterface({ input: stream }));
    const done = () => {
      clearTimeout(timer);
      child.off("exit", onExit);
      readers.forEach((r) => r.off("line", onLine));
    };
    const fail = (error) => {
      done();
      reject(error);
    };
    const onLine = (line) => {
      lines.push(line);
      const found = match(line);
      if (found !== undefined) {
        done();
        resolvePromise(found);
      }
    };
    const onExit = (code, signal) => fail(new Error(`${what} exited (${code ?? signal}) before it served:\n${lines.join("\n")}`));
    readers.forEach((r) => r.on("line", onLine));
    child.on("exit", onExit);
  });
}

/** Sends SIGTERM to the child (by its pid), SIGKILL if it has not ended within `graceMs`. */
async function stopChild(child, graceMs = 10_000) {
  started.delete(child);
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  process.kill(child.pid, "SIGTERM");
  const timer = setTimeout(() => child.exitCode === null && process.kill(child.pid, "SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

function servingAddress(line) {
  try {
    const entry = JSON.parse(line);
    return entry.msg === "serving" ? entry.listen : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts `progimage serve` on 127.0.0.1:0 with a fresh data directory and
 * `args`; answers its base URL and a stop function.
 */
export async function startServer(args = []) {
  const dir = await mkdtemp(join(tmpdir(), "progimage-ts-"));
  const child = spawn(binary, ["serve", "--listen", "127.0.0.1:0", "--data", join(dir, "data"), "--usage-flush", "100ms", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.add(child);
  child.on("error", () => {}); // a missing binary shows as the exit below
  let listen;
  try {
    listen = await waitForLine(child, servingAddress, `${binary} serve`, 30_000);
  } catch (error) {
    await stopChild(child);
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  child.stdout.resume();
  child.stderr.resume();
  return {
    url: `http://${listen}`,
    pid: child.pid,
    async stop() {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** tests/clients/storm_proxy.py in front of `upstream`; see its docstring. */
export async function startStormProxy(upstream) {
  const dir = await mkdtemp(join(tmpdir(), "progimage-storm-"));
  const portFile = join(dir, "port");
  const child = spawn("python3", [join(repo, "tests/clients/storm_proxy.py"), "--upstream", upstream, "--port-file", portFile], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.add(child);
  const port = await pollFile(portFile, 15_000);
  const url = `http://127.0.0.1:${port}`;
  const control = async (method, path, body) => {
    const response = await fetch(`${url}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status}`);
    return response.text();
  };
  return {
    url,
    arm: (storm) => control("POST", "/__storm", storm),
    reset: () => control("POST", "/__reset"),
    /** The requests seen since the last reset: {t, method, path, answer}. */
    log: async () =>
      (await control("GET", "/__log"))
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line)),
    async stop() {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function pollFile(path, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const text = (await readFile(path, "utf8")).trim();
      if (text) return text;
    } catch {
      // not written yet
    }
    if (Date.now() > deadline) throw new Error(`${path} was not written within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A loopback HTTP server answering GET /NAME with that corpus file (for remote imports). */
export async function startFileServer() {
  const server = createServer(async (req, res) => {
    try {
      const bytes = await corpusFile(decodeURIComponent(new URL(req.url, "http://x").pathname.slice(1)));
      res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": bytes.length });
      res.end(bytes);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: (name) => `http://127.0.0.1:${server.address().port}/${encodeURI(name)}`,
    stop: () => new Promise((r) => server.close(r)),
  };
}

/** Rejects unless `promise` rejects with a ProgImageError of this status and code; answers the error. */
export async function expectError(promise, status, code) {
  try {
    await promise;
  } catch (error) {
    if (error?.name !== "ProgImageError" || error.status !== status || error.code !== code) {
      throw new Error(`expected ProgImageError ${status} ${code}, got ${error?.name} ${error?.status} ${error?.code}: ${error?.message}`, { cause: error });
    }
    return error;
  }
  throw new Error(`expected ProgImageError ${status} ${code}, but the call succeeded`);
}
