/**
 * The `sanlock-ts dlm` commands that go through the daemon's DLM socket (@sanlock-ts/client/dlm):
 * join, leave, ls, lockdump, lock. Lines as dlm_tool prints them where it has the command.
 */
import { DlmClient, type LockMode, LOCK_MODES } from "@sanlock-ts/client/dlm";
import { EXIT_FAILURE, EXIT_OK, type Output } from "../output.js";
import { DlmCliError, pathOffset } from "./run.js";

type Values = Record<string, string | boolean | undefined>;

const modeText = (m: LockMode | undefined): string => m ?? "IV";

function hostIdOf(v: Values): number | undefined {
  if (v.i === undefined) return undefined;
  const n = Number(v.i);
  if (!Number.isInteger(n) || n < 1) throw new DlmCliError(`-i must be a host_id of 1 or more: ${String(v.i)}`);
  return n;
}

function one(args: string[], what: string): string {
  if (args.length !== 1) throw new DlmCliError(`${what} needs one lockspace name`);
  return args[0]!;
}

export async function runDlmDaemonCommand(command: string, args: string[], v: Values, output: Output, json: boolean): Promise<number> {
  // Each case awaits its command: the connection (this DLM process) must outlive it.
  await using client = await DlmClient.connect();
  switch (command) {
    case "join":
      return await join(client, one(args, "join"), v, output, json);
    case "leave":
      return await leave(client, one(args, "leave"), v, output, json);
    case "ls":
      return await list(client, output, json);
    case "lockdump":
      return await lockdump(client, one(args, "lockdump"), output, json);
    case "lockdebug":
      return await lockdebug(client, one(args, "lockdebug"), output, json);
    default:
      return await lock(client, args, v, output, json);
  }
}

/** dlm_tool join: create (NEWEXCL with -e 1); the daemon keeps it joined after this process ends. */
async function join(client: DlmClient, name: string, v: Values, output: Output, json: boolean): Promise<number> {
  if (!json) output.line(`Joining lockspace "${name}" permission 600`);
  const hostId = hostIdOf(v);
  const ls = await client.createLockspace(name, {
    exclusive: v.e === "1",
    ...(hostId !== undefined ? { hostId } : {}),
    ...(typeof v.disk === "string" ? { disk: pathOffset(v.disk) } : {}),
  });
  output.line(json ? JSON.stringify({ joined: name, hostId: ls.hostId, lvbLength: ls.lvbLength }) : "done");
  return EXIT_OK;
}

/** dlm_tool leave: release with force (dlm_tool passes 1), unless --no-force. */
async function leave(client: DlmClient, name: string, v: Values, output: Output, json: boolean): Promise<number> {
  if (!json) output.line(`Leaving lockspace "${name}"`);
  const ls = await client.openLockspace(name);
  await ls.release({ force: v["no-force"] !== true });
  output.line(json ? JSON.stringify({ left: name }) : "done");
  return EXIT_OK;
}

async function list(client: DlmClient, output: Output, json: boolean): Promise<number> {
  const spaces = await client.listLockspaces();
  if (json) {
    output.line(JSON.stringify(spaces, (_k, value) => (typeof value === "bigint" ? value.toString() : value)));
    return EXIT_OK;
  }
  output.line("dlm lockspaces");
  for (const s of spaces) {
    output.line(`name          ${s.name}`);
    output.line(`id            0x${s.lockspaceId.slice(-8)}`);
    output.line("flags         0x00000000");
    output.line(`change        member ${s.members.length} joined 1 remove 0 failed 0 seq ${s.generation},${s.generation}`);
    output.line(`members       ${s.members.join(" ")}`);
    output.line("");
  }
  return EXIT_OK;
}

/** dlm_tool lockdump: one line per lock of this host. */
async function lockdump(client: DlmClient, name: string, output: Output, json: boolean): Promise<number> {
  const ls = await client.openLockspace(name);
  const locks = await ls.locks();
  await ls.close();
  if (json) {
    output.line(JSON.stringify(locks.map((l) => ({ ...l, resource: Buffer.from(l.resource).toString("utf8") }))));
    return EXIT_OK;
  }
  for (const l of locks) {
    const rq = l.requested === undefined ? "IV" : l.requested;
    output.line(
      `id ${l.id.toString(16).padStart(8, "0")} gr ${modeText(l.granted)} rq ${rq} pid ${l.pid} master 0 "${Buffer.from(l.resource).toString("utf8")}"${l.orphan ? " orphan" : ""}`,
    );
  }
  return EXIT_OK;
}

/**
 * dlm_tool lockdebug: this host's locks per resource, in Granted, Convert and Waiting blocks
 * (`%08x gr` / `%08x gr (rq)` / `%08x --(rq)`). Other hosts' locks live in their own daemons.
 */
async function lockdebug(client: DlmClient, name: string, output: Output, json: boolean): Promise<number> {
  const ls = await client.openLockspace(name);
  const locks = await ls.locks();
  await ls.close();
  const byResource = new Map<string, typeof locks>();
  for (const l of locks) {
    const key = Buffer.from(l.resource).toString("utf8");
    byResource.set(key, [...(byResource.get(key) ?? []), l]);
  }
  if (json) {
    output.line(JSON.stringify([...byResource].map(([resource, list]) => ({ resource, locks: list.map((l) => ({ ...l, resource })) }))));
    return EXIT_OK;
  }
  for (const [resource, list] of byResource) {
    output.line(`Resource len ${String(Buffer.byteLength(resource)).padStart(2)}  "${resource}"`);
    const id = (n: number): string => n.toString(16).padStart(8, "0");
    const blocks: [string, typeof locks, (l: (typeof locks)[number]) => string][] = [
      ["Granted", list.filter((l) => l.granted !== undefined && l.requested === undefined), (l) => `${id(l.id)} ${modeText(l.granted)}`],
      ["Convert", list.filter((l) => l.granted !== undefined && l.requested !== undefined), (l) => `${id(l.id)} ${modeText(l.granted)} (${l.requested})`],
      ["Waiting", list.filter((l) => l.granted === undefined), (l) => `${id(l.id)} --(${modeText(l.requested)})`],
    ];
    for (const [title, members, line] of blocks) {
      if (members.length === 0) continue;
      output.line(`${title} Queue`);
      for (const l of members) output.line(`${line(l)}${l.orphan ? " orphan" : ""}`);
    }
    output.line("");
  }
  return EXIT_OK;
}

/** Takes a lock (scripts, tests): prints the grant, holds it --hold seconds (0: until SIGTERM/SIGINT), unlocks. */
async function lock(client: DlmClient, args: string[], v: Values, output: Output, json: boolean): Promise<number> {
  if (args.length !== 3) throw new DlmCliError("lock needs NAME RESOURCE MODE");
  const [name, resource, modeWord] = args as [string, string, string];
  const mode = modeWord.toUpperCase() as LockMode;
  if (!LOCK_MODES.includes(mode)) throw new DlmCliError(`MODE must be one of ${LOCK_MODES.join(" ")}`);
  let lvb: Uint8Array | undefined;
  if (typeof v.vb === "string") {
    if (!/^([0-9a-fA-F]{2})*$/.test(v.vb)) throw new DlmCliError("--vb must be hex bytes");
    lvb = new Uint8Array(Buffer.from(v.vb, "hex"));
  }
  const hold = v.hold === undefined ? undefined : Number(v.hold);
  if (hold !== undefined && !(hold >= 0)) throw new DlmCliError("--hold must be seconds, 0 or more");
  const ls = await client.openLockspace(name);
  let granted;
  try {
    granted = await ls.lock(resource, mode, { noQueue: v.noqueue === true, persistent: v.persistent === true, ...(lvb ? { valueBlock: lvb } : {}) });
  } catch (err) {
    const e = err as Error & { status?: number; statusName?: string };
    if (json) output.line(JSON.stringify({ resource, mode, status: e.status, code: e.statusName }));
    else output.line(`lock ${name} ${resource} ${mode} error ${e.statusName ?? e.message} (${e.status ?? "?"})`);
    return EXIT_FAILURE;
  }
  const lvbHex = granted.lvb ? Buffer.from(granted.lvb).toString("hex") : undefined;
  if (json)
    output.line(JSON.stringify({ resource, mode, lkid: granted.id, status: 0, ...(lvbHex ? { lvb: lvbHex } : {}), valNotValid: granted.sb.valNotValid }));
  else output.line(`granted ${mode} lkid ${granted.id}${lvbHex ? ` lvb ${lvbHex}` : ""}${granted.sb.valNotValid ? " VALNOTVALID" : ""}`);
  if (hold !== undefined) await holdFor(hold);
  // A persistent lock is left to become an orphan when this process ends (docs/dlm.md §5.10).
  if (v.persistent !== true) await granted.unlock();
  return EXIT_OK;
}

/** Waits `seconds` (0: until SIGTERM or SIGINT). */
function holdFor(seconds: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off("SIGTERM", done);
      process.off("SIGINT", done);
      if (timer) clearTimeout(timer);
      resolve();
    };
    const timer = seconds > 0 ? setTimeout(done, seconds * 1000) : undefined;
    process.on("SIGTERM", done);
    process.on("SIGINT", done);
  });
}
