// Argument schemas of the typed client (zod). Every call's arguments are
// checked here before anything is sent: names fit the 48-byte wire fields,
// paths the 1024-byte field with its NUL, numbers the header and struct
// fields (docs/wire.md §4, §4.12 "Limits").

import { z } from "zod";
import { ClientArgumentError } from "./errors.js";
import { KILLPATH_FIELD_LEN, MAX_DISKS, MAX_HOST_ID, MAX_LVB_SIZE, MAX_RESOURCES, NAME_LEN, PATH_LEN } from "@sanlock-ts/core/wire";

const utf8 = new TextEncoder();
const byteLength = (s: string): number => utf8.encode(s).byteLength;
const U64_MAX = (1n << 64n) - 1n;
const I32_MAX = 0x7fffffff;

/** A lockspace or resource name: 1..48 bytes of UTF-8 without NUL. */
export const nameSchema = z
  .string()
  .refine((s) => s.length > 0, "must not be empty")
  .refine((s) => byteLength(s) <= NAME_LEN, `must be at most ${NAME_LEN} bytes`)
  .refine((s) => !s.includes("\0"), "must not contain NUL");

/** A path: 1..1023 bytes (the field holds 1024 with the NUL). */
export const pathSchema = z
  .string()
  .refine((s) => s.length > 0, "must not be empty")
  .refine((s) => byteLength(s) < PATH_LEN, `must be at most ${PATH_LEN - 1} bytes`)
  .refine((s) => !s.includes("\0"), "must not contain NUL");

/** A u64 given as a safe integer or a bigint, as bigint. */
export const u64Schema = z.union([z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.bigint().min(0n).max(U64_MAX)]).transform((v) => BigInt(v));

export const hostIdSchema = z
  .union([z.number().int(), z.bigint()])
  .transform((v) => BigInt(v))
  .refine((v) => v >= 1n && v <= BigInt(MAX_HOST_ID), `must be 1..${MAX_HOST_ID}`);
export const hostIdOrZeroSchema = z
  .union([z.number().int(), z.bigint()])
  .transform((v) => BigInt(v))
  .refine((v) => v >= 0n && v <= BigInt(MAX_HOST_ID), `must be 0..${MAX_HOST_ID}`);

/** A non-negative count that travels in a 32-bit header field. */
export const countSchema = z.number().int().min(0).max(I32_MAX);

/** One disk: `[path, offset]` as in Python, or `{ path, offset }`. */
export const diskSchema = z
  .union([z.tuple([pathSchema, u64Schema]), z.object({ path: pathSchema, offset: u64Schema.optional() })])
  .transform((d) => (Array.isArray(d) ? { path: d[0], offset: d[1] } : { path: d.path, offset: d.offset ?? 0n }));
export type DiskInput = z.input<typeof diskSchema>;

export const disksSchema = z.array(diskSchema).min(1, "needs at least one disk").max(MAX_DISKS, `at most ${MAX_DISKS} disks`);

export const signalSchema = z.custom<AbortSignal>((v) => v instanceof AbortSignal, "must be an AbortSignal").optional();

/** -Z / sector argument: 512 or 4096. */
export const sectorSchema = z.union([z.literal(512), z.literal(4096)]);
/** -A / align argument in bytes. */
export const alignSchema = z.union([z.literal(1048576), z.literal(2097152), z.literal(4194304), z.literal(8388608)]);

export const pidSchema = z.number().int().min(1).max(I32_MAX);
export const lvbSchema = z.instanceof(Uint8Array).refine((b) => b.byteLength <= MAX_LVB_SIZE, `must be at most ${MAX_LVB_SIZE} bytes`);
export const lvbSizeSchema = z.number().int().min(1).max(MAX_LVB_SIZE);
export const killpathPathSchema = pathSchema.refine((s) => byteLength(s) < KILLPATH_FIELD_LEN, `must be at most ${KILLPATH_FIELD_LEN - 1} bytes`);
export const maxResources = MAX_RESOURCES;

/** Parses `value` or throws ClientArgumentError naming the argument and the problem. */
export function check<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = [what, ...(issue?.path ?? []).map(String)].join(".");
  throw new ClientArgumentError(where, issue?.message ?? "invalid");
}

export { z };
