// The argument reader of `sanlock-ts supervise` for --killpath and --state-file (docs/sam.md §9.1):
// what it accepts, and the usage errors it gives before anything runs.
import t from "tap";
import { parseSuperviseArgs } from "../src/supervise/args.js";

const lease = ["-r", "LS:R:/p:0"];

t.test("--killpath: PATH and ARGS split at blanks", async (t) => {
  const args = parseSuperviseArgs([...lease, "--killpath", "/usr/bin/fence  host-a  now", "--", "prog"]);
  t.same(args.killpath, { path: "/usr/bin/fence", args: ["host-a", "now"] });
  t.equal(parseSuperviseArgs([...lease, "--", "prog"]).killpath, undefined, "none by default");
});

t.test("--killpath usage errors", async (t) => {
  const refused = (argv: string[], message: RegExp, what: string): void => {
    t.throws(() => parseSuperviseArgs(argv), { code: "ERR_CLI_BAD_ARG", message }, what);
  };
  refused(["--killpath", "/bin/true", "--", "prog"], /--killpath needs -r/, "without a lease there is no registration to give it to");
  refused([...lease, "--killpath", "fence", "--", "prog"], /absolute PATH/, "a relative path (the daemon runs it)");
  refused([...lease, "--killpath", "   ", "--", "prog"], /needs 'PATH/, "empty");
  refused([...lease, "--killpath", `/${"p".repeat(127)}`, "--", "prog"], /PATH is longer than 127 bytes/, "path of 128 bytes");
  t.same(parseSuperviseArgs([...lease, "--killpath", `/${"p".repeat(126)}`, "--", "prog"]).killpath?.path.length, 127, "path of 127 bytes");
  t.equal(parseSuperviseArgs([...lease, "--killpath", `/k ${"a".repeat(127)}`, "--", "prog"]).killpath?.args[0]?.length, 127, "ARGS of 127 bytes");
  refused([...lease, "--killpath", `/k ${"a".repeat(128)}`, "--", "prog"], /ARGS are longer than 127 bytes/, "ARGS of 128 bytes");
  refused([...lease, "--killpath", `/k ${"\\".repeat(64)}`, "--", "prog"], /ARGS are longer than 127 bytes/, "64 backslashes escape to 128 bytes");
});

t.test("--state-file", async (t) => {
  t.equal(parseSuperviseArgs(["--state-file", "/var/lib/x/state.json", "--", "prog"]).stateFile, "/var/lib/x/state.json");
  t.equal(parseSuperviseArgs(["--", "prog"]).stateFile, undefined);
  t.throws(() => parseSuperviseArgs(["--state-file", "", "--", "prog"]), { code: "ERR_CLI_BAD_ARG" }, "an empty name");
});
