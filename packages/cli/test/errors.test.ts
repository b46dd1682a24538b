// Bad input to the built `sanlock-ts` CLI: a one-line error naming the problem, a non-zero exit
// status, and nothing written. Files live under /var/tmp (ext4: O_DIRECT is refused by tmpfs).
// Needs `pnpm build` first.
import t, { type Test } from "tap";
import { environmentSkip } from "../../../test/support/index.js";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../dist/main.cjs", import.meta.url));
const MIB = 1048576;
const COMMAND_TIMEOUT_MS = 30_000;

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function cli(...args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: COMMAND_TIMEOUT_MS }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

async function digest(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

/** A file whose every byte is 0x5a, so that any write shows up in its digest. */
async function patternFile(path: string, size: number): Promise<void> {
  await writeFile(path, Buffer.alloc(size, 0x5a));
}

/** The error line on stderr: exactly one line. */
function errorLine(t: Test, result: RunResult): string {
  const lines = result.stderr.split("\n").filter((l) => l !== "");
  t.equal(lines.length, 1, `one error line (got: ${JSON.stringify(result.stderr)})`);
  return lines[0] ?? "";
}

t.test("bad input", { skip: environmentSkip(!existsSync(CLI) && "build the CLI first (pnpm build)") }, async (t) => {
  const dir = await mkdtemp("/var/tmp/sanlock-ts-cli-");
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = `${dir}/leases`;
  await patternFile(file, 4 * MIB);
  const before = await digest(file);

  const cases: { what: string; args: string[]; mentions: RegExp }[] = [
    {
      what: "lockspace name over 48 bytes",
      args: ["direct", "init", "-s", `${"L".repeat(49)}:0:${file}:0`, "-Z", "512", "-A", "1M"],
      mentions: /name.*49 bytes.*48/,
    },
    {
      what: "resource name over 48 bytes",
      args: ["direct", "init", "-r", `LS:${"R".repeat(49)}:${file}:0`, "-Z", "512", "-A", "1M"],
      mentions: /resource name.*49 bytes/,
    },
    {
      what: "offset not a multiple of the alignment",
      args: ["direct", "init", "-s", `LS:0:${file}:512`, "-Z", "512", "-A", "1M"],
      mentions: /offset 512.*1048576/,
    },
    {
      what: "resource offset not aligned to 2M",
      args: ["direct", "init", "-r", `LS:R:${file}:1M`, "-Z", "4096", "-A", "2M"],
      mentions: /offset 1048576.*2097152/,
    },
    { what: "path missing from the lockspace", args: ["direct", "init", "-s", "LS:0", "-Z", "512", "-A", "1M"], mentions: /path/ },
    { what: "path does not exist", args: ["direct", "init", "-s", `LS:0:${dir}/nothing:0`, "-Z", "512", "-A", "1M"], mentions: /nothing/ },
    { what: "area beyond the end of the file", args: ["direct", "init", "-r", `LS:R:${file}:4M`, "-Z", "512", "-A", "1M"], mentions: /4194304|end|small/ },
    { what: "sector 512 with 2M", args: ["direct", "init", "-s", `LS:0:${file}:0`, "-Z", "512", "-A", "2M"], mentions: /512.*2M/ },
    { what: "sector 1024", args: ["direct", "init", "-s", `LS:0:${file}:0`, "-Z", "1024", "-A", "1M"], mentions: /1024/ },
    { what: "-Z without -A", args: ["direct", "init", "-s", `LS:0:${file}:0`, "-Z", "4096"], mentions: /-Z and -A/ },
    { what: "option glued to its value", args: ["direct", "init", "-s", `LS:0:${file}:0`, "-Z512"], mentions: /Z512/ },
    { what: "unknown option", args: ["direct", "init", "-s", `LS:0:${file}:0`, "-q", "1"], mentions: /q/ },
    { what: "offset that is not a number", args: ["direct", "init", "-s", `LS:0:${file}:1x`], mentions: /offset "1x"/ },
  ];
  for (const c of cases) {
    const result = await cli(...c.args);
    t.not(result.code, 0, `${c.what}: non-zero exit`);
    t.match(errorLine(t, result), c.mentions, `${c.what}: message names the problem`);
  }
  t.equal(await digest(file), before, "nothing was written to the file");
  t.equal((await stat(file)).size, 4 * MIB, "the file did not grow");
});

t.test(
  "a file smaller than the area is refused and not extended",
  { skip: environmentSkip(!existsSync(CLI) && "build the CLI first (pnpm build)") },
  async (t) => {
    const dir = await mkdtemp("/var/tmp/sanlock-ts-cli-");
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const small = `${dir}/small`;
    await patternFile(small, 100 * 1024);
    const result = await cli("direct", "init", "-s", `LS:0:${small}:0`, "-Z", "512", "-A", "1M");
    t.not(result.code, 0);
    const line = errorLine(t, result);
    t.ok(line.includes(small), "names the file");
    t.match(line, /102400 bytes.*1048576-byte area at offset 0/, "names its size and the area");
    t.equal((await stat(small)).size, 100 * 1024, "size unchanged");
    t.equal(
      (await readFile(small)).every((b) => b === 0x5a),
      true,
      "content unchanged",
    );
  },
);

t.test("reading a damaged area names the field and where", { skip: environmentSkip(!existsSync(CLI) && "build the CLI first (pnpm build)") }, async (t) => {
  const dir = await mkdtemp("/var/tmp/sanlock-ts-cli-");
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = `${dir}/leases`;
  await writeFile(file, Buffer.alloc(2 * MIB));
  const init = await cli("direct", "init", "-s", `LS:0:${file}:0`, "-Z", "512", "-A", "1M");
  t.equal(init.code, 0, init.stderr);
  const initR = await cli("direct", "init", "-r", `LS:R1:${file}:1M`, "-Z", "512", "-A", "1M");
  t.equal(initR.code, 0, initR.stderr);

  // host 2's record (sector 1, byte 512): change owner_id (byte 32) without fixing the checksum
  const handle = await open(file, "r+");
  try {
    await handle.write(Buffer.from([7]), 0, 1, 512 + 32);
    await handle.write(Buffer.from([0xde, 0xad, 0xbe, 0xef]), 0, 4, 1048576);
  } finally {
    await handle.close();
  }
  const sum = await cli("direct", "read_leader", "-s", `LS:2:${file}:0`);
  t.not(sum.code, 0, "bad checksum: non-zero exit");
  t.match(errorLine(t, sum), /checksum.*byte 680/, "names the checksum and its byte offset (sector 1 + 168)");
  t.match(sum.stdout, /^read_leader done -229\n/, "prints sanlock's result code for a bad checksum");

  const ok = await cli("direct", "read_leader", "-s", `LS:1:${file}:0`);
  t.equal(ok.code, 0, "the intact record of host 1 still reads");

  const magic = await cli("direct", "read_leader", "-r", `LS:R1:${file}:1M`);
  t.not(magic.code, 0, "bad magic: non-zero exit");
  t.match(errorLine(t, magic), /magic.*byte 1048576/, "names the magic and its byte offset");
  t.match(magic.stdout, /^read_leader done -223\n/, "prints sanlock's result code for a bad magic");
});

t.test("commands, help and version", { skip: environmentSkip(!existsSync(CLI) && "build the CLI first (pnpm build)") }, async (t) => {
  const version = await cli("version");
  t.same([version.code, version.stdout], [0, "3.8.5\n"]);
  const help = await cli("help");
  t.equal(help.code, 0);
  t.match(help.stdout, /sanlock-ts direct init -s LOCKSPACE \| -r RESOURCE/);
  const bare = await cli("direct");
  t.equal(bare.code, 1, "direct without an action prints usage and fails");
  t.match(bare.stdout, /^Usage:/);
  const unknown = await cli("direct", "frobnicate");
  t.same([unknown.code, unknown.stdout], [1, 'direct action "frobnicate" is unknown\n']);
});
