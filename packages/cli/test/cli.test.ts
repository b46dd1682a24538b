// The command front end in-process: dispatch to the registered top-level commands, the
// `sanlock ACTION` = `sanlock client ACTION` rule, and refusal of unknown options before a
// command runs (a command that writes must never start on a mistyped command line).
import t from "tap";
import { runCli } from "../src/cli.js";
import type { ParsedArgs, TopCommand } from "../src/commands/command-module.js";
import type { Output } from "../src/output.js";

function capture(): Output & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, line: (s) => lines.push(s), error: (s) => errors.push(s) };
}

/** A fake command that records the arguments it ran with. */
function recorder(command: string, keys: string[]): TopCommand & { calls: ParsedArgs[] } {
  const calls: ParsedArgs[] = [];
  return {
    calls,
    command,
    describe: "test",
    knownKeys: keys,
    builder: (y) =>
      keys
        .filter((k) => !command.includes(`<${k}>`))
        .reduce((acc, k) => acc.option(k, { type: "string", requiresArg: true }), y.positional("action", { type: "string" })),
    run: async (args) => {
      calls.push(args);
      return 0;
    },
  };
}

t.test("a first word that is no command is a client action", async (t) => {
  const out = capture();
  t.equal(await runCli(["status"], out, []), 1);
  t.same(out.lines, ['client action "status" is unknown']);

  const client = recorder("client <action>", ["action", "s"]);
  const out2 = capture();
  t.equal(await runCli(["status", "-s", "LS"], out2, [client]), 0);
  t.equal(client.calls[0]?.["action"], "status");
  t.equal(client.calls[0]?.["s"], "LS");
});

t.test("unknown options and glued values are refused before the command runs", async (t) => {
  const direct = recorder("direct <action>", ["action", "s", "Z"]);
  for (const argv of [
    ["direct", "init", "-q", "1"],
    ["direct", "init", "-Z512"],
    ["direct", "init", "extra"],
    ["direct", "init", "-s"],
  ]) {
    const out = capture();
    t.equal(await runCli(argv, out, [direct]), 1, argv.join(" "));
    t.equal(out.errors.length, 1, `${argv.join(" ")}: one error line`);
  }
  t.equal(direct.calls.length, 0, "the command never ran");
  const ok = capture();
  t.equal(await runCli(["direct", "init", "-s", "LS:0:/x:0", "-Z", "512"], ok, [direct]), 0);
  t.same([direct.calls[0]?.["s"], direct.calls[0]?.["Z"]], ["LS:0:/x:0", "512"], "values stay strings");
});

t.test("help, and a command word without its action", async (t) => {
  const out = capture();
  t.equal(await runCli(["help"], out, []), 0);
  t.equal(out.lines[0], "Usage:");
  const bare = capture();
  t.equal(await runCli(["direct"], bare, []), 1);
  t.equal(bare.lines[0], "Usage:");
});
