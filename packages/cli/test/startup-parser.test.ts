// The fast reader of `client` command lines (client-argv.ts, used so that the client path
// never loads yargs) must read every line it accepts exactly as yargs reads it, and must
// leave every other line to yargs, so that errors and odd forms keep yargs' behaviour.
import t from "tap";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../src/cli.js";
import { parseClientArgv } from "../src/client-argv.js";
import { CLIENT_FLAGS, CLIENT_OPTIONS, clientCommand } from "../src/commands/client/command.js";
import type { ParsedArgs } from "../src/commands/command-module.js";
import type { Output } from "../src/output.js";

interface YargsResult {
  readonly code: number;
  /** The arguments the command ran with; undefined when yargs refused the line. */
  readonly args: ParsedArgs | undefined;
  readonly lines: string[];
  readonly errors: string[];
}

function capture(): Output & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, line: (s) => lines.push(s), error: (s) => errors.push(s) };
}

/** Reads argv with yargs and the real client declarations, recording what the command would get. */
async function readWithYargs(argv: readonly string[]): Promise<YargsResult> {
  let args: ParsedArgs | undefined;
  const recorder = { ...clientCommand, run: async (parsed: ParsedArgs) => ((args = parsed), 0) };
  const out = capture();
  const code = await runCli(argv, out, [recorder]);
  return { code, args, lines: out.lines, errors: out.errors };
}

/** Lines sanlock's own syntax allows: the fast reader must accept each one. */
const PLAIN_LINES: readonly string[][] = [
  ["client", "status"],
  ["client", "status", "-D"],
  ["client", "status", "-o", "p"],
  ["client", "status", "--json"],
  ["client", "status", "-json", "-D"],
  ["client", "-D", "status"],
  ["client", "host_status", "-s", "LS", "-D"],
  ["client", "gets", "-h", "1"],
  ["client", "add_lockspace", "-s", "LS:1:/var/tmp/ls:0", "-o", "10"],
  ["client", "acquire", "-r", "LS:R:/dev/x:0", "-r", "LS:R2:/dev/x:1M:SH", "-p", "123"],
  ["client", "release", "-r", "A", "-r", "B", "-r", "C", "-p", "1"],
  ["client", "command", "-r", "LS:R:/p:0", "-c", "/bin/sleep", "10", "20"],
  ["client", "set_event", "-s", "LS", "-i", "2", "-g", "0", "-e", "1", "-d", "7"],
  ["client", "set_config", "-s", "LS", "-u", "1", "-O", "0"],
  ["client", "shutdown", "-f", "1", "-w", "1"],
  ["client", "lookup", "-x", "LS:/p:0", "-e", "name:1M"],
  ["client", "init", "-s", "LS:1:/p:0", "-Z", "4096", "-A", "8M"],
  ["client", "status", "-s", ""],
  ["client", "status", "-s", "true"],
  ["client", "status", "-s", "a b", "-s", "0x10"],
  ["client", "status", "extra"],
  ["client", "__proto__"],
  ["client", "status", "-D", "-D"],
  ["client", "status", "-D", "1"],
];

/** Lines outside the plain syntax: the fast reader must leave each one to yargs. */
const ODD_LINES: readonly string[][] = [
  ["client", "status", "-o"],
  ["client", "status", "-q", "1"],
  ["client", "status", "-Z512"],
  ["client", "status", "--no-D"],
  ["client", "status", "--", "-x"],
  ["client", "status", "-s=x"],
  ["client", "status", "--s", "x"],
  ["client", "status", "-p", "-1"],
  ["client", "status", "-D", "true"],
  ["client", "status", "--json", "false"],
  ["client", "-s", "LS"],
  ["client", "status", "-"],
];

t.test("plain client lines: the fast reader gives what yargs gives", async (t) => {
  for (const argv of PLAIN_LINES) {
    const fast = parseClientArgv(argv);
    const slow = await readWithYargs(argv);
    t.not(fast, undefined, `accepted: ${argv.join(" ")}`);
    t.equal(slow.code, 0, `yargs accepts: ${argv.join(" ")}`);
    t.strictSame(fast, slow.args, argv.join(" "));
  }
});

t.test("other lines are left to yargs", async (t) => {
  for (const argv of ODD_LINES) t.equal(parseClientArgv(argv), undefined, argv.join(" "));
  t.equal(parseClientArgv(["direct", "init"]), undefined, "only client lines");
});

/** A small seeded generator (xorshift32), so a failing line can be reproduced. */
function generator(seed: number): (n: number) => number {
  let state = seed >>> 0 || 1;
  return (n) => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state % n;
  };
}

const OPTION_TOKENS: readonly string[] = Object.keys(CLIENT_OPTIONS).map((letter) => `-${letter}`);
const FLAG_TOKENS: readonly string[] = Object.keys(CLIENT_FLAGS).flatMap((name) => [`-${name}`, `--${name}`]);
const WORDS: readonly string[] = ["status", "acquire", "command", "LS:1:/p:0", "1", "0", "", "true", "false", "a b", "a=b", "__proto__", "x:y\\:z"];
const ODD_TOKENS: readonly string[] = ["-1", "--", "-", "-q", "-s=x", "--s", "-Z512", "--no-D", "-DD"];

/** One generated client line: mostly sanlock's plain syntax, now and then a token outside it. */
function generatedLine(pick: (n: number) => number): string[] {
  const one = (list: readonly string[]): string => list[pick(list.length)] as string;
  const argv = ["client"];
  if (pick(5) > 0) argv.push(one(WORDS));
  for (let items = pick(6); items > 0; items--) {
    const kind = pick(20);
    if (kind < 12) argv.push(one(OPTION_TOKENS), one(WORDS));
    else if (kind < 15) argv.push(one(FLAG_TOKENS));
    else if (kind < 18) argv.push(one(WORDS));
    else argv.push(one(ODD_TOKENS));
  }
  return argv;
}

t.test("generated lines: whatever the fast reader accepts, yargs reads the same", async (t) => {
  const pick = generator(20261122);
  let accepted = 0;
  const LINES = 400;
  for (let n = 0; n < LINES; n++) {
    const argv = generatedLine(pick);
    const fast = parseClientArgv(argv);
    if (fast === undefined) continue;
    accepted++;
    const slow = await readWithYargs(argv);
    if (slow.args === undefined || JSON.stringify(fast) !== JSON.stringify(slow.args)) {
      t.strictSame({ argv, fast }, { argv, fast: slow.args }, `line ${n}: ${JSON.stringify(argv)} (${slow.errors.join("; ")})`);
    }
  }
  t.ok(accepted > LINES / 4, `the generator reaches the fast reader (${accepted} of ${LINES} lines)`);
  t.pass(`${accepted} accepted lines agree`);
});

t.test("through runCli, a line yargs refuses gives the same error either way", async (t) => {
  for (const argv of [
    ["client", "status", "-o"],
    ["client", "status", "-q", "1"],
    ["status", "-Z512"],
    ["client", "status", "--no-D"],
  ]) {
    const slow = await readWithYargs(argv);
    const out = capture();
    const code = await runCli(argv, out);
    t.equal(slow.args, undefined, `yargs refuses: ${argv.join(" ")}`);
    t.same({ code, lines: out.lines, errors: out.errors }, { code: slow.code, lines: slow.lines, errors: slow.errors }, argv.join(" "));
  }
});

t.test("through runCli, fast and yargs paths print the same for a daemon that is not there", async (t) => {
  const runDir = await mkdtemp(join(tmpdir(), "sanlock-ts-startup-"));
  const saved = process.env.SANLOCK_RUN_DIR;
  process.env.SANLOCK_RUN_DIR = runDir;
  t.teardown(async () => {
    if (saved === undefined) delete process.env.SANLOCK_RUN_DIR;
    else process.env.SANLOCK_RUN_DIR = saved;
    await rm(runDir, { recursive: true, force: true });
  });
  const { TOP_COMMANDS } = await import("../src/commands/index.js");
  // The first line of each pair takes the fast path, the second (same meaning) goes to yargs.
  const pairs: [string[], string[]][] = [
    [
      ["client", "status", "-D"],
      ["client", "status", "-D", "true"],
    ],
    [
      ["status", "-o", "p"],
      ["status", "--o", "p"],
    ],
    [
      ["client", "host_status", "-s", "LS"],
      ["client", "host_status", "-s=LS"],
    ],
    [
      ["client", "nonsense"],
      ["client", "nonsense", "--json", "true"],
    ],
  ];
  for (const [fastLine, yargsLine] of pairs) {
    t.not(parseClientArgv(fastLine[0] === "client" ? fastLine : ["client", ...fastLine]), undefined, `fast: ${fastLine.join(" ")}`);
    t.equal(parseClientArgv(yargsLine), undefined, `yargs: ${yargsLine.join(" ")}`);
    const fastOut = capture();
    const fastCode = await runCli(fastLine, fastOut);
    const yargsOut = capture();
    const yargsCode = await runCli(yargsLine, yargsOut, TOP_COMMANDS);
    t.same(
      { code: fastCode, lines: fastOut.lines, errors: fastOut.errors },
      { code: yargsCode, lines: yargsOut.lines, errors: yargsOut.errors },
      `${fastLine.join(" ")} = ${yargsLine.join(" ")}`,
    );
    t.equal(fastCode, 1, `${fastLine.join(" ")} fails without a daemon`);
  }
});
