// Summarises a V8 .cpuprofile (node --cpu-prof): self time per function and per area
// (idle, GC, our packages, node's fs/net internals), to show where the daemon's time goes.
import { readFileSync } from "node:fs";

const MAX_NODES = 5_000_000;

/** The area a call frame belongs to, from its script URL and name. */
export function areaOf(callFrame) {
  const { url, functionName } = callFrame;
  if (functionName === "(idle)") return "idle (event loop waiting)";
  if (functionName === "(garbage collector)") return "garbage collector";
  if (functionName === "(program)") return "native / V8 (program)";
  const pkg = /packages\/(core|client|daemon|cli)\//.exec(url);
  if (pkg) return `@sanlock-ts/${pkg[1]}`;
  if (/^node:internal\/(fs|streams)/.test(url) || url === "node:fs") return "node fs";
  if (/^node:internal\/(net|stream_base|child_process)|^node:net/.test(url)) return "node net/socket";
  if (url.startsWith("node:")) return "node other";
  if (url === "") return `native: ${functionName || "(anonymous)"}`;
  return "other JS";
}

/** Reads a .cpuprofile file. */
export function readProfile(path) {
  const profile = JSON.parse(readFileSync(path, "utf8"));
  if (profile.nodes.length > MAX_NODES) throw new Error(`${path}: more than ${MAX_NODES} profile nodes`);
  return profile;
}

/** The current CLOCK_MONOTONIC time in µs, the clock of V8's profile timestamps on Linux. */
export const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

/**
 * { totalMs, byArea: [[area, ms]], byFunction: [[name, ms]] } sorted by time, largest first,
 * counting only samples taken in [fromUs, toUs) (CLOCK_MONOTONIC µs) when a window is given.
 */
export function summarizeProfile(profile, top = 20, window = { fromUs: -Infinity, toUs: Infinity }) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMs = new Map();
  // samples[i] was taken timeDeltas[i] µs after the previous one: charge that interval to it.
  let ts = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    ts += delta;
    if (ts >= window.fromUs && ts < window.toUs) selfMs.set(id, (selfMs.get(id) ?? 0) + delta / 1000);
  });
  const areas = new Map();
  const functions = new Map();
  let totalMs = 0;
  for (const [id, ms] of selfMs) {
    const { callFrame } = byId.get(id);
    totalMs += ms;
    const area = areaOf(callFrame);
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const file = callFrame.url.replace(/^.*\/packages\//, "").replace(/^file:\/\//, "");
    const name = `${callFrame.functionName || "(anonymous)"} ${file}:${callFrame.lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + ms);
  }
  const sorted = (m) => [...m].sort((a, b) => b[1] - a[1]);
  return { totalMs, byArea: sorted(areas), byFunction: sorted(functions).slice(0, top) };
}
