// A module hook for structural tests: `node --import MODULE_LOAD_LOG_IMPORT ...` appends the URL
// of every module the process loads to the file named by its LOAD_LOG environment variable.

/** Runs in the hooks thread: appends the URL of every module loaded to the file it was given. */
const HOOKS_SOURCE = `
import { appendFileSync } from "node:fs";
let logPath;
export function initialize(data) { logPath = data.logPath; }
export async function load(url, context, next) {
  appendFileSync(logPath, url + "\\n");
  return next(url, context);
}
`;

/** Runs before the entry module (node --import): installs the hooks above. */
const REGISTER_SOURCE = `
import { register } from "node:module";
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS_SOURCE)}`)}, { data: { logPath: process.env.LOAD_LOG } });
`;

/** The value for node's --import. */
export const MODULE_LOAD_LOG_IMPORT = `data:text/javascript,${encodeURIComponent(REGISTER_SOURCE)}`;
