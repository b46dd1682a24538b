/**
 * Test helper for the SAM API (docs/sam.md): runs a small ESM script that uses
 * @sanlock-ts/client/sam from the built dist/ as a real supervisor process (its instances are
 * the same script re-executed, as in production) and collects what it reports.
 *
 * The script gets a prelude: `Sam`, the options from the test (SAM_OPTIONS, JSON; initialData
 * as text), `say(obj)` (one JSON line on stdout with `t` = CLOCK_MONOTONIC ms and the pid),
 * `sleep(ms)`, `block(ms)` (blocks the event loop: a hung process), `text(bytes)`,
 * `bytes(text)`, and `w`, the SamWorker of the instance. Every supervisor event is said as
 * `{ ev }`. Everything left running is SIGKILLed (with its process group) in teardown.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const SAM_DIST = fileURLToPath(new URL("../../packages/client/dist/sam/index.js", import.meta.url));

/** Why SAM scripts cannot run here (the build is missing), or false. */
export function samScriptGap(): string | false {
  return existsSync(SAM_DIST) ? false : "packages/client/dist is not built (run pnpm build)";
}

const PRELUDE = String.raw`
const { Sam } = await import(process.env.SAM_URL);
const now = () => Number(process.hrtime.bigint() / 1000000n);
const say = (o) => process.stdout.write(JSON.stringify({ ...o, t: now(), pid: process.pid }) + "\n");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const block = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
const text = (d) => (d === undefined ? null : new TextDecoder().decode(d));
const bytes = (s) => new TextEncoder().encode(s);
const opts = JSON.parse(process.env.SAM_OPTIONS);
if (typeof opts.initialData === "string") opts.initialData = bytes(opts.initialData);
// SAM_BLOCK_AFTER_WARN_MS: the supervisor's event loop is blocked that long, one turn after a
// warning, so that the next deadline and the warned instance's exit are due in the same turn.
const blockAfterWarn = Number(process.env.SAM_BLOCK_AFTER_WARN_MS ?? 0);
const onEvent = (ev) => {
  say({ ev });
  if (ev.type === "warned" && blockAfterWarn > 0) setImmediate(() => block(blockAfterWarn));
};
const sam = await Sam.initialize({ ...opts, onEvent });
const w = await sam.register();
say({ instance: w.instanceId, data: text(w.data) });
`;

export interface SamLine {
  readonly t: number;
  readonly pid: number;
  readonly ev?: { type: string; [key: string]: unknown };
  readonly instance?: number;
  readonly [key: string]: unknown;
}

export interface SamRun {
  readonly pid: number;
  readonly lines: SamLine[];
  /** Supervisor exit: code, or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  /** Events of one type, in order. */
  events(type: string): SamLine[];
  /** Resolves with the first line matching, or rejects after `ms`. */
  waitFor(what: string, match: (line: SamLine) => boolean, ms?: number): Promise<SamLine>;
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

const MAX_LINES = 10_000;
const RUN_LIMIT_MS = 60_000;

/** Runs `body` (after the prelude) as a supervisor with `options` (SamOptions as JSON). */
export function runSamScript(t: Teardown, body: string, options: Record<string, unknown>, env: Record<string, string> = {}): SamRun {
  const dir = mkdtempSync(join(tmpdir(), "sam-script-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = join(dir, "script.mjs");
  writeFileSync(script, `${PRELUDE}\n${body}\n`);
  // Not tap's NODE_OPTIONS: its preloads install SIGTERM handlers in every instance, and a
  // warned instance would then not die of the warn signal's default action. tap's process
  // hooks put NODE_OPTIONS back into a spawned environment, so env(1) removes it.
  const child = spawn("/usr/bin/env", ["-u", "NODE_OPTIONS", process.execPath, script], {
    env: { ...process.env, ...env, SAM_URL: pathToFileURL(SAM_DIST).href, SAM_OPTIONS: JSON.stringify(options) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: SamLine[] = [];
  let partial = "";
  let err = "";
  child.stdout.on("data", (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split("\n");
    partial = parts.pop() ?? "";
    for (const p of parts) if (p.trim() !== "" && lines.length < MAX_LINES) lines.push(JSON.parse(p) as SamLine);
  });
  child.stderr.on("data", (chunk: Buffer) => {
    if (err.length < 100_000) err += chunk.toString();
  });
  const limit = setTimeout(() => child.kill("SIGKILL"), RUN_LIMIT_MS);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("close", (code, signal) => {
      clearTimeout(limit);
      resolve({ code, signal });
    });
  });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    for (const l of lines) {
      try {
        process.kill(-l.pid, "SIGKILL"); // an instance's group, should one have survived
      } catch {
        // gone, as expected
      }
    }
  });
  if (child.pid === undefined) throw new Error("the SAM script did not start");
  const events = (type: string): SamLine[] => lines.filter((l) => l.ev?.type === type);
  const waitFor = async (what: string, match: (line: SamLine) => boolean, ms = 20_000): Promise<SamLine> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = lines.find(match);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; lines: ${JSON.stringify(lines).slice(-2000)} stderr: ${err.slice(-1000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { pid: child.pid, lines, exited, stderr: () => err, events, waitFor };
}
