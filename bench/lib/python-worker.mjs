// Runs bench/worker.py (the real sanlock python binding) against one daemon and reads its JSON lines.
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const PYTHON = "/usr/bin/python3";
const WORKER = fileURLToPath(new URL("../worker.py", import.meta.url));
/** Any single worker finishes well within this (the longest, 1,000 acquires, takes seconds). */
const WORKER_TIMEOUT_MS = 180_000;
const STDERR_KEEP_BYTES = 16 * 1024;

/**
 * An interactive worker: next() resolves with its next JSON line, send() writes a line to its
 * stdin, done() waits for exit and fails if the worker failed. It is killed after 180 s.
 */
export function startWorker(daemon, mode, args) {
  const child = spawn(PYTHON, [WORKER, mode], { env: daemon.env, stdio: ["pipe", "pipe", "pipe"] });
  child.stdin.on("error", () => {
    /* the worker exited early; its exit status reports why */
  });
  child.stdin.write(`${JSON.stringify(args)}\n`); // arguments: one JSON line (argv is too small)
  let stderr = "";
  child.stderr.on("data", (c) => {
    if (stderr.length < STDERR_KEEP_BYTES) stderr += c.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), WORKER_TIMEOUT_MS);
  const exit = new Promise((resolve) =>
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    }),
  );
  const queued = [];
  const waiting = [];
  createInterface({ input: child.stdout }).on("line", (line) => {
    let value;
    try {
      value = JSON.parse(line);
    } catch {
      value = { error: `not JSON: ${line.slice(0, 200)}` };
    }
    const waiter = waiting.shift();
    if (waiter) waiter.resolve(value);
    else queued.push(value);
  });
  exit.then(({ code, signal }) => {
    for (const w of waiting.splice(0)) w.reject(workerError(mode, code, signal, stderr));
  });
  const describe = (value) => {
    if (value.error !== undefined) throw new Error(`worker ${mode} failed on ${daemon.kind}: ${value.error}`);
    return value;
  };
  return {
    pid: child.pid,
    next() {
      if (queued.length > 0) return Promise.resolve(describe(queued.shift()));
      if (child.exitCode !== null || child.signalCode !== null) return Promise.reject(workerError(mode, child.exitCode, child.signalCode, stderr));
      return new Promise((resolve, reject) => waiting.push({ resolve, reject })).then(describe);
    },
    send(line) {
      child.stdin.write(`${line}\n`);
    },
    async done() {
      child.stdin.end();
      const { code, signal } = await exit;
      if (code !== 0) throw workerError(mode, code, signal, stderr);
    },
    kill() {
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

function workerError(mode, code, signal, stderr) {
  return new Error(`worker ${mode} exited with ${code ?? signal}: ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
}

/** Runs a worker to completion and returns its single JSON result. */
export async function runWorker(daemon, mode, args) {
  const worker = startWorker(daemon, mode, args);
  try {
    const result = await worker.next();
    await worker.done();
    return result;
  } finally {
    worker.kill();
  }
}
