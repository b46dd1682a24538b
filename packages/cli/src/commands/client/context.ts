/**
 * What every client action needs: the parsed options as sanlock reads them,
 * the daemon's socket, and the result code of a failed call. Result codes are
 * printed exactly as sanlock prints them; a second line on stderr names the
 * code and what it means (docs/wire.md §9).
 */
import type { CallTarget } from "@sanlock-ts/client/calls";
import { ClientError, SanlockError } from "@sanlock-ts/client/errors";
import { resolveSocketPath } from "@sanlock-ts/client/socket-path";
import { resultMessage, resultName } from "@sanlock-ts/client/wire";
import { CliArgError } from "../../args/errors.js";
import type { ParsedArgs } from "../command-module.js";
import type { Output } from "../../output.js";

/** Waits that are not meant to last (status, version...) give up after this long (the daemon ignores bad requests, docs/wire.md §5.4). */
export const QUICK_TIMEOUT_MS = 60_000;

/** An action returns sanlock's final result value; the exit status is 0 only for 0 (docs/wire.md §11). */
export type ClientAction = (ctx: ClientContext) => Promise<number>;

export class ClientContext {
  readonly socketPath: string;

  constructor(
    readonly args: ParsedArgs,
    readonly output: Output,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    this.socketPath = resolveSocketPath({ runDir: env.SANLOCK_RUN_DIR || undefined });
  }

  /** A call that answers promptly. */
  get quick(): CallTarget {
    return { socketPath: this.socketPath, timeoutMs: QUICK_TIMEOUT_MS };
  }

  /** A call that waits by design (acquire, sync add/rem, shutdown -w 1). */
  get waiting(): CallTarget {
    return { socketPath: this.socketPath };
  }

  get debug(): boolean {
    return this.args.D === true;
  }

  get json(): boolean {
    return this.args.json === true;
  }

  /** The last value of a single-value option (sanlock keeps the last one). */
  opt(letter: string): string | undefined {
    const value = this.args[letter];
    if (Array.isArray(value)) return value.length > 0 ? String(value[value.length - 1]) : undefined;
    return typeof value === "string" ? value : undefined;
  }

  /** Every value of a repeatable option (-r). */
  all(letter: string): string[] {
    const value = this.args[letter];
    if (Array.isArray(value)) return value.map(String);
    return typeof value === "string" ? [value] : [];
  }

  /** A number option read as C atoi does for sanlock's 0|1 style flags; stricter: digits only. */
  int(letter: string, fallback = 0): number {
    const text = this.opt(letter);
    if (text === undefined) return fallback;
    if (!/^-?\d+$/.test(text)) throw new CliArgError("ERR_CLI_BAD_NUMBER", `-${letter} "${text}" is not a decimal number`);
    return Number(text);
  }

  /** A number read as C strtoull(…, 0): decimal, 0x hex or leading-0 octal; stricter: no garbage. */
  u64(letter: string): bigint {
    const text = this.opt(letter);
    if (text === undefined) return 0n;
    return parseCNumber(text, `-${letter}`);
  }

  require(letter: string, what: string): string {
    const value = this.opt(letter);
    if (value === undefined) throw new CliArgError("ERR_CLI_MISSING_ARG", `-${letter} ${what} is required`);
    return value;
  }

  /** Prints the explanation of a failed result on stderr (stdout keeps sanlock's exact text). */
  explain(action: string, rv: number): void {
    if (rv < 0) this.output.error(`sanlock-ts: ${action}: ${resultName(rv)} (${rv}): ${resultMessage(rv)}`);
  }
}

export function parseCNumber(text: string, what: string): bigint {
  const match = /^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)$/.exec(text);
  if (match === null) throw new CliArgError("ERR_CLI_BAD_NUMBER", `${what} "${text}" is not a number (decimal, 0x hex or 0 octal)`);
  const value = text.length > 1 && text[0] === "0" && !/[xX]/.test(text) ? BigInt(`0o${text.slice(1)}`) : BigInt(text);
  if (value >= 1n << 64n) throw new CliArgError("ERR_CLI_BAD_NUMBER", `${what} "${text}" does not fit 64 bits`);
  return value;
}

/**
 * The value libsanlock would return for a failed call: the daemon's result,
 * or a negated errno of the socket call (−2 no socket, −111 refused, docs/wire.md §9.1),
 * −1 for a reply cut short.
 */
export function libsanlockResultOf(err: unknown): number {
  if (err instanceof SanlockError) return err.result;
  if (err instanceof ClientError) {
    const cause = err.cause as NodeJS.ErrnoException | undefined;
    const errno = cause?.errno;
    if (err.code === "ERR_CLIENT_CONNECT" && typeof errno === "number") return errno < 0 ? errno : -errno;
    return -1;
  }
  throw err;
}

/** Runs a call and returns 0 or its failure as sanlock's result value. */
export async function rvOf(call: () => Promise<unknown>): Promise<number> {
  try {
    await call();
    return 0;
  } catch (err) {
    return libsanlockResultOf(err);
  }
}
