// Test harness: a real `draftline serve` on a fresh Postgres database and Redis prefix,
// a TCP proxy that can cut connections, and small waiting helpers.

import { spawn, execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import WebSocket from "ws";
import { DraftlineClient } from "../dist/index.js";

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.DRAFTLINE_BIN ?? path.resolve(here, "../../target/debug/draftline");
const SECRET = "draftline-test-secret-not-for-production-0123456789";
const BASE_DB = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A hub process with its own database and Redis prefix; `restart()` keeps both and the port. */
export async function startHub(extraEnv = {}) {
  const id = `${process.pid}_${randomBytes(4).toString("hex")}`;
  const db = new URL(BASE_DB);
  db.pathname = `/dl_sdk_${id}`;
  const port = await freePort();
  const env = {
    ...process.env,
    DATABASE_URL: db.toString(),
    REDIS_URL,
    DRAFTLINE_REDIS_PREFIX: `dl-sdk-${id}:`,
    DRAFTLINE_JWT_SECRET: SECRET,
    DRAFTLINE_BIND: `127.0.0.1:${port}`,
    DRAFTLINE_WORKERS: "2",
    DRAFTLINE_SHUTDOWN_TIMEOUT_MS: "3000",
    DRAFTLINE_DRAIN_TIMEOUT_MS: "3000",
    RUST_LOG: process.env.RUST_LOG ?? "warn",
    ...extraEnv,
  };
  await run(BIN, ["migrate"], { env });
  const hub = {
    port,
    env,
    url: `ws://127.0.0.1:${port}/v1/ws`,
    httpUrl: `http://127.0.0.1:${port}/`,
    process: undefined,
    log: "",
    async token(user, args = []) {
      const { stdout } = await run(BIN, ["token", "--user", user, ...args], { env: this.env });
      return stdout.trim();
    },
    async start() {
      const child = spawn(BIN, ["serve"], { env: this.env, stdio: ["ignore", "ignore", "pipe"] });
      child.stderr.on("data", (chunk) => {
        this.log = (this.log + chunk).slice(-20_000);
      });
      this.process = child;
      await waitFor(async () => {
        if (child.exitCode !== null) throw new Error(`draftline serve exited (${child.exitCode}):\n${this.log}`);
        const res = await fetch(`${this.httpUrl}readyz`).catch(() => undefined);
        return res?.ok;
      }, 20_000, "the hub to be ready");
    },
    /** SIGTERM (clients see 1012), then wait for the process to end. */
    async stop() {
      const child = this.process;
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
    async restart(env = {}) {
      await this.stop();
      Object.assign(this.env, env);
      await this.start();
    },
    /** Stops the hub and drops its database and Redis keys. */
    async dispose() {
      await this.stop();
      await run("psql", [BASE_DB, "-qc", `DROP DATABASE IF EXISTS "dl_sdk_${id}" WITH (FORCE)`]).catch(() => undefined);
      await run("sh", [
        "-c",
        `redis-cli -u "$1" --scan --pattern "$2*" | xargs -r redis-cli -u "$1" DEL >/dev/null`,
        "sh",
        REDIS_URL,
        env.DRAFTLINE_REDIS_PREFIX,
      ]).catch(() => undefined);
    },
  };
  await hub.start();
  return hub;
}

// Every client a test made, closed after its suite even when an assertion failed (an
// open client reconnects forever and keeps the test process alive).
const clients = new Set();

export function track(c) {
  clients.add(c);
  return c;
}

export function closeClients() {
  for (const c of clients) c.close();
  clients.clear();
}

/** A client of `hub` (or of `url`) for `user`, with test-sized reconnect delays. */
export async function client(hub, user, options = {}) {
  const token = await hub.token(user);
  const c = new DraftlineClient({
    url: options.url ?? hub.url,
    httpUrl: hub.httpUrl,
    token,
    client: { name: "sdk-test", version: "0" },
    WebSocket,
    reconnect: { minDelayMs: 50, maxDelayMs: 400 },
    requestTimeoutMs: 10_000,
    ...options,
  });
  track(c);
  await c.connect();
  return c;
}

/** A TCP proxy to `port` that can cut every connection and refuse new ones. */
export async function proxy(port) {
  const sockets = new Set();
  let down = false;
  const server = net.createServer((inbound) => {
    if (down) {
      inbound.destroy();
      return;
    }
    const outbound = net.connect(port, "127.0.0.1");
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => undefined);
    }
    inbound.pipe(outbound).pipe(inbound);
    inbound.on("close", () => outbound.destroy());
    outbound.on("close", () => inbound.destroy());
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port: own } = server.address();
  return {
    url: `ws://127.0.0.1:${own}/v1/ws`,
    /** Drops every connection as a network failure would, and refuses new ones until `up()`. */
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    up() {
      down = false;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

export async function waitFor(check, timeoutMs = 10_000, what = "a condition") {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A snapshot-shaped state with presence in a stable order, for comparing. */
export function comparable(state) {
  const { presence, ...rest } = state;
  return { ...rest, presence: [...presence].sort((a, b) => (a.session_id < b.session_id ? -1 : 1)) };
}

/** Waits until the view has caught up with the topic, then compares it with a fresh snapshot. */
export async function settledSnapshot(c, view, projectId) {
  let fresh;
  await waitFor(async () => {
    fresh = await c.snapshot(projectId);
    const at = view.state?.position;
    return at && at.epoch === fresh.position.epoch && at.offset === fresh.position.offset;
  }, 15_000, "the view to reach the topic's position");
  return fresh;
}
