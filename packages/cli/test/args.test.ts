// Argument strings as `sanlock direct` takes them (spec docs/wire.md §10.1, §10.4, docs/ondisk.md §9.1).
import t from "tap";
import {
  parseDumpTarget,
  parseLockspaceArg,
  parseOffset,
  parseRentryArg,
  parseResourceArg,
  parseRindexArg,
  splitUnescaped,
} from "../src/args/sanlock-strings.js";
import { parseGeometry } from "../src/args/geometry-args.js";
import { CliArgError } from "../src/args/errors.js";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return error instanceof CliArgError ? error.code : `not a CliArgError: ${String(error)}`;
  }
  return undefined;
}

t.test("lockspace: four fields, M suffix, escaped colons in the path", async (t) => {
  t.same(parseLockspaceArg("LS:0:/var/tmp/f:0"), { name: "LS", hostId: 0, path: "/var/tmp/f", offset: 0 });
  t.same(parseLockspaceArg("LS:7:/dev/x:2M"), { name: "LS", hostId: 7, path: "/dev/x", offset: 2097152 });
  t.same(parseLockspaceArg("LS:1:/var/tmp/ws\\:col:1048576"), { name: "LS", hostId: 1, path: "/var/tmp/ws:col", offset: 1048576 });
  t.same(parseLockspaceArg("LS:1:/a\\:b\\:c:0"), { name: "LS", hostId: 1, path: "/a:b:c", offset: 0 });
  t.same(parseLockspaceArg("LS"), { name: "LS", hostId: 0, path: "", offset: 0 }, "missing fields stay empty");
});

t.test("resource: disks, LVER and SH suffixes, escapes", async (t) => {
  t.same(parseResourceArg("LS:R1:/var/tmp/f:1M"), { lockspaceName: "LS", name: "R1", disks: [{ path: "/var/tmp/f", offset: 1048576 }], shared: false });
  t.same(parseResourceArg("LS:R1:/var/tmp/f:0:SH").shared, true);
  t.equal(parseResourceArg("LS:R1:/var/tmp/f:0:5").lver, 5n);
  t.same(parseResourceArg("LS:RC:/var/tmp/ws\\:col:0:1").disks, [{ path: "/var/tmp/ws:col", offset: 0 }]);
  t.equal(parseResourceArg("LS:R:/a:0:/b:1048576").disks.length, 2);
  t.equal(
    codeOf(() => parseResourceArg("LS:R1")),
    "ERR_CLI_BAD_ARG",
    "too few fields",
  );
  t.equal(
    codeOf(() => parseResourceArg("LS:R1:/f:abc")),
    "ERR_CLI_BAD_NUMBER",
  );
  t.equal(
    codeOf(() => parseResourceArg("LS:R1::0")),
    "ERR_CLI_PATH_MISSING",
  );
});

t.test("rindex and rindex entry", async (t) => {
  t.same(parseRindexArg("LS:/var/tmp/g:1M"), { lockspaceName: "LS", path: "/var/tmp/g", offset: 1048576 });
  t.same(parseRindexArg("LS:/x\\:y:8M"), { lockspaceName: "LS", path: "/x:y", offset: 8388608 });
  t.same(parseRentryArg("R1:3M"), { name: "R1", offset: 3145728 });
  t.same(parseRentryArg("R1"), { name: "R1", offset: 0 });
  t.same(parseRentryArg(":4194304"), { name: "", offset: 4194304 });
});

t.test("dump target: PATH[:OFFSET[:SIZE]]", async (t) => {
  t.same(parseDumpTarget("/var/tmp/f"), { path: "/var/tmp/f", offset: 0, size: 0 });
  t.same(parseDumpTarget("/var/tmp/f:1M:8M"), { path: "/var/tmp/f", offset: 1048576, size: 8388608 });
  t.same(parseDumpTarget("/dev/foo\\:32:0:1M"), { path: "/dev/foo:32", offset: 0, size: 1048576 });
  t.equal(
    codeOf(() => parseDumpTarget(":0")),
    "ERR_CLI_PATH_MISSING",
  );
});

t.test("names longer than 48 bytes are refused, 48 is accepted", async (t) => {
  const n48 = "A".repeat(48);
  t.equal(parseLockspaceArg(`${n48}:0:/f:0`).name, n48);
  t.equal(
    codeOf(() => parseLockspaceArg(`${n48}B:0:/f:0`)),
    "ERR_CLI_NAME_TOO_LONG",
  );
  t.equal(
    codeOf(() => parseResourceArg(`LS:${n48}B:/f:0`)),
    "ERR_CLI_NAME_TOO_LONG",
  );
  t.equal(
    codeOf(() => parseRindexArg(`${n48}B:/f:0`)),
    "ERR_CLI_NAME_TOO_LONG",
  );
  t.equal(
    codeOf(() => parseRentryArg(`${n48}B:0`)),
    "ERR_CLI_NAME_TOO_LONG",
  );
  // multi-byte characters count in bytes: 17 x 3 bytes = 51
  t.equal(
    codeOf(() => parseLockspaceArg(`${"€".repeat(17)}:0:/f:0`)),
    "ERR_CLI_NAME_TOO_LONG",
  );
});

t.test("offsets: digits with optional M, nothing else", async (t) => {
  t.equal(parseOffset("0", "o"), 0);
  t.equal(parseOffset("8M", "o"), 8388608);
  for (const bad of ["", "-1", "1K", "0x10", "1M5", " 1"])
    t.equal(
      codeOf(() => parseOffset(bad, "o")),
      "ERR_CLI_BAD_NUMBER",
      bad,
    );
  t.equal(
    codeOf(() => parseLockspaceArg("LS:x:/f:0")),
    "ERR_CLI_BAD_NUMBER",
    "host_id must be decimal",
  );
});

t.test("a lone trailing backslash is an error", async (t) => {
  t.equal(
    codeOf(() => parseLockspaceArg("LS:0:/f\\")),
    "ERR_CLI_BAD_ARG",
  );
});

t.test("splitUnescaped keeps the rest of the string in the last field", async (t) => {
  t.same(splitUnescaped("a:b\\:c:d:e", 2), ["a", "b\\:c", "d:e"]);
});

t.test("-Z/-A pairs: the five valid ones, nothing else", async (t) => {
  t.equal(parseGeometry(undefined, undefined), undefined);
  t.same(parseGeometry("512", "1M"), { sectorSize: 512, alignSize: 1048576 });
  for (const a of ["1M", "2M", "4M", "8M"]) t.equal(parseGeometry("4096", a)?.sectorSize, 4096);
  t.equal(
    codeOf(() => parseGeometry("512", "2M")),
    "ERR_CLI_BAD_SIZES",
  );
  t.equal(
    codeOf(() => parseGeometry("1024", "1M")),
    "ERR_CLI_BAD_SIZES",
  );
  t.equal(
    codeOf(() => parseGeometry("4096", "3M")),
    "ERR_CLI_BAD_SIZES",
  );
  t.equal(
    codeOf(() => parseGeometry("512", undefined)),
    "ERR_CLI_BAD_SIZES",
  );
});
