// CLI of the simulator: `pnpm sim --seeds N --hosts H [--seed S] [--variant NAME] [--ops N]
// [--resources R] [--no-faults] [--trace] [--expect-violation]`. Ends with one summary line.
// Exit status 1 when violations were found (or, with --expect-violation, when none were).
// core imports nothing from Node: argv, stdout and exit come from globalThis.process.

import { SanlockTsError } from "../errors.js";
import { MAX_DISKS } from "../limits.js";
import { DLM_VARIANTS } from "../dlm/engine.js";
import { BROKEN_VARIANTS } from "../variants.js";
import { runDlmSeeds } from "./dlm-runner.js";
import { runSeeds, type SeedRunOptions } from "./runner.js";

interface ProcessLike {
  argv: string[];
  stdout: { write(text: string): boolean };
  exitCode?: number;
}

interface PerformanceLike {
  now(): number;
}

const proc = (globalThis as unknown as { process: ProcessLike }).process;
const perf = (globalThis as unknown as { performance: PerformanceLike }).performance;

const USAGE =
  "usage: sim --seeds N --hosts H [--workload sanlock|dlm] [--seed S] [--variant NAME] [--ops N] [--resources R] [--disks D] [--max-seconds T] [--io-timeouts N,N,...] [--no-herd] [--no-faults] [--trace] [--expect-violation]";

export interface CliOptions {
  /** "sanlock" (leases) or "dlm" (DLM locks, docs/dlm.md §9 tests 36-40). */
  workload: "sanlock" | "dlm";
  seeds: number;
  hosts: number;
  firstSeed: number;
  variant: string;
  ops: number;
  resources: number;
  /** Disks each resource is replicated on (1..4). */
  disks: number;
  maxSeconds: number;
  /** undefined: the default draw (SIM_IO_TIMEOUTS). */
  ioTimeouts: number[] | undefined;
  /** false: no run starts its acquires together (as seeds found before herd runs existed). */
  herd: boolean;
  faults: boolean;
  trace: boolean;
  expectViolation: boolean;
}

export class CliUsageError extends SanlockTsError {
  override readonly name = "CliUsageError";
  constructor(message: string) {
    super("ERR_SIM_USAGE", message);
  }
}

function intArg(name: string, value: string | undefined, min: number, max: number): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < min || n > max) {
    throw new CliUsageError(`${name} needs an integer in ${min}..${max}, got ${value ?? "nothing"}`);
  }
  return n;
}

export function parseCli(args: readonly string[]): CliOptions {
  const o: CliOptions = {
    workload: "sanlock",
    seeds: 0,
    hosts: 3,
    firstSeed: 1,
    variant: "none",
    ops: 12,
    resources: 2,
    disks: 1,
    maxSeconds: 900,
    ioTimeouts: undefined,
    herd: true,
    faults: true,
    trace: false,
    expectViolation: false,
  };
  let seedGiven = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const [flag, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? args[++i];
    switch (flag) {
      case "--seeds":
        o.seeds = intArg(flag, value(), 1, 1_000_000);
        break;
      case "--hosts":
        o.hosts = intArg(flag, value(), 1, 16);
        break;
      case "--seed":
        o.firstSeed = intArg(flag, value(), 0, 2 ** 48);
        seedGiven = true;
        break;
      case "--ops":
        o.ops = intArg(flag, value(), 1, 10_000);
        break;
      case "--resources":
        o.resources = intArg(flag, value(), 1, 8);
        break;
      case "--disks":
        o.disks = intArg(flag, value(), 1, MAX_DISKS);
        break;
      case "--max-seconds":
        o.maxSeconds = intArg(flag, value(), 10, 100_000);
        break;
      case "--io-timeouts": {
        const list = (value() ?? "").split(",");
        o.ioTimeouts = list.map((n) => intArg(flag, n, 1, 255));
        break;
      }
      case "--workload": {
        const v = value();
        if (v !== "sanlock" && v !== "dlm") throw new CliUsageError(`--workload must be sanlock or dlm, got ${v ?? "nothing"}`);
        o.workload = v;
        break;
      }
      case "--variant": {
        const v = value();
        const known: readonly string[] = [...BROKEN_VARIANTS, ...DLM_VARIANTS];
        if (v === undefined || !known.includes(v)) {
          throw new CliUsageError(`--variant must be one of ${known.join(", ")}, got ${v ?? "nothing"}`);
        }
        o.variant = v;
        break;
      }
      case "--no-faults":
        o.faults = false;
        break;
      case "--no-herd":
        o.herd = false;
        break;
      case "--trace":
        o.trace = true;
        break;
      case "--expect-violation":
        o.expectViolation = true;
        break;
      case "--":
        break;
      default:
        throw new CliUsageError(`unknown argument ${arg}`);
    }
  }
  if (o.seeds === 0) o.seeds = seedGiven ? 1 : 100;
  const variants: readonly string[] = o.workload === "dlm" ? DLM_VARIANTS : BROKEN_VARIANTS;
  if (!variants.includes(o.variant)) throw new CliUsageError(`--variant ${o.variant} is not a variant of the ${o.workload} workload (${variants.join(", ")})`);
  return o;
}

export async function main(args: readonly string[]): Promise<number> {
  let options: CliOptions;
  try {
    options = parseCli(args);
  } catch (err) {
    proc.stdout.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const out = (line: string): void => void proc.stdout.write(`${line}\n`);
  const started = perf.now();
  const run: SeedRunOptions = {
    firstSeed: options.firstSeed,
    seeds: options.seeds,
    hosts: options.hosts,
    resources: options.resources,
    disks: options.disks,
    opsPerHost: options.ops,
    variant: options.variant,
    faults: options.faults,
    maxSeconds: options.maxSeconds,
    ...(options.ioTimeouts ? { ioTimeouts: options.ioTimeouts } : {}),
    herd: options.herd,
    stopOnViolation: options.expectViolation,
    keepTraceLines: options.trace ? 0 : 60,
    ...(options.trace ? { traceSink: out } : {}),
    onSeed: (r) => {
      if (r.violations.length === 0) return;
      out(`seed ${r.seed}: ${r.violations.length} violation(s)`);
      for (const plan of r.plans) out(`  ${plan}`);
      for (const v of r.violations.slice(0, 5)) out(`  t=${v.time.toFixed(3)} ${v.kind}: ${v.message}`);
      if (!options.trace) {
        out(`  last trace lines of seed ${r.seed}:`);
        for (const line of r.trace.recent()) out(`    ${line}`);
      }
      out(
        `  reproduce: pnpm sim${options.workload === "dlm" ? " --workload dlm" : ""} --seed ${r.seed} --hosts ${options.hosts} --ops ${options.ops} --resources ${options.resources}` +
          `${options.disks !== 1 ? ` --disks ${options.disks}` : ""}` +
          `${options.variant !== "none" ? ` --variant ${options.variant}` : ""}${options.faults ? "" : " --no-faults"}` +
          `${options.ioTimeouts ? ` --io-timeouts ${options.ioTimeouts.join(",")}` : ""}${options.herd ? "" : " --no-herd"} --trace`,
      );
    },
  };
  const summary = options.workload === "dlm" ? await runDlmSeeds(run) : await runSeeds(run);
  const elapsed = (perf.now() - started) / 1000;
  const failing = summary.failingSeeds.length > 0 ? ` (first failing seed ${summary.failingSeeds[0]})` : "";
  out(
    `sim: seeds ${summary.seedsRun}, hosts ${options.hosts}, ${options.workload === "dlm" ? "workload dlm, " : ""}variant ${options.variant}, ` +
      `simulated ${options.workload === "dlm" ? "lock" : "lease"} operations ${summary.operations}, ` +
      `I/Os ${summary.ios}, violations ${summary.violations}${failing}, elapsed ${elapsed.toFixed(1)} s`,
  );
  const b = summary.ballots;
  const io = summary.ioTimeoutHosts
    .map((n, i) => (n > 0 ? `${i}:${n}` : ""))
    .filter(Boolean)
    .join(" ");
  out(
    `  ballots ${b.run}, finding a value ${b.withValue}, finding two or more ${b.multiValue}; releases checked ${summary.releasesChecked}; hosts by io_timeout ${io}`,
  );
  const violated = summary.violations > 0;
  return violated === options.expectViolation ? 0 : 1;
}

// Run when executed directly (node packages/core/dist/sim/main.js).
const entry = proc?.argv?.[1] ?? "";
if (/sim[\\/]main\.(js|ts)$/.test(entry)) {
  void main(proc.argv.slice(2)).then((code) => {
    proc.exitCode = code;
  });
}
