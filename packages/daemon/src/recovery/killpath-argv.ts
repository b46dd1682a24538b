/**
 * The argument vector of a killpath program (docs/algorithms.md §6.3; sanlock
 * src/helper.c run_path): the path, then the argument string split on white
 * space, where a backslash escapes a backslash or a white-space character;
 * parsing stops at any other escape or at a character that is neither
 * printable nor white space. At most 8 entries in total, the pid (when
 * KILLPATH_PID) last if there is room.
 */

/** sanlock's MAX_AV_COUNT. */
export const KILLPATH_MAX_ARGV = 8;
/** Field size of path and args on the wire (docs/wire.md §4.11); longer strings are a caller bug. */
export const KILLPATH_FIELD_MAX = 128;

const isSpace = (c: string): boolean => c === " " || c === "\t" || c === "\n" || c === "\v" || c === "\f" || c === "\r";
/** isalnum || ispunct in the C locale: printable ASCII other than space. */
const isPrintable = (c: string): boolean => c > " " && c <= "~";

export function killpathArgv(path: string, args: string, pid?: number): string[] {
  if (path.length === 0 || path.length >= KILLPATH_FIELD_MAX) {
    throw new RangeError(`killpath path must be 1..${KILLPATH_FIELD_MAX - 1} characters, got ${path.length}`);
  }
  if (args.length >= KILLPATH_FIELD_MAX) {
    throw new RangeError(`killpath args must be under ${KILLPATH_FIELD_MAX} characters, got ${args.length}`);
  }
  const argv = [path];
  let current = "";
  for (let i = 0; i < args.length; i++) {
    if (argv.length === KILLPATH_MAX_ARGV) {
      current = "";
      break;
    }
    let c = args.charAt(i);
    if (c === "\0") break;
    if (c === "\\") {
      if (i === args.length - 1) break;
      i++;
      c = args.charAt(i);
      if (c === "\\" || isSpace(c)) {
        current += c;
        continue;
      }
      break;
    }
    if (isPrintable(c)) current += c;
    else if (isSpace(c)) {
      if (current.length > 0) argv.push(current);
      current = "";
    } else break;
  }
  if (argv.length < KILLPATH_MAX_ARGV && current.length > 0) argv.push(current);
  if (pid !== undefined && pid !== 0 && argv.length < KILLPATH_MAX_ARGV) argv.push(String(pid));
  return argv;
}
