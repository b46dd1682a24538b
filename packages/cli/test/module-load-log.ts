// A module hook for structural tests: `node --import MODULE_LOAD_LOG_IMPORT ...` appends the URL
// of every module the process loads to the file named by its LOAD_LOG environment variable.
// ES modules are seen by a loader hook; CommonJS files loaded by require() (the CLI's entry
// point and bundle are CommonJS) are not routed through loader hooks in node 20, so the
// register module also wraps the CommonJS loader's Module._load in the main thread.

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

/**
 * Runs before the entry module (node --import): installs the hooks above, and logs what
 * require() loads as the same URLs (file: URLs, node: for builtins).
 */
const REGISTER_SOURCE = `
import Module, { register, isBuiltin } from "node:module";
import { appendFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
const logPath = process.env.LOAD_LOG;
register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(HOOKS_SOURCE)}`)}, { data: { logPath } });
const load = Module._load;
Module._load = function (request, parent, isMain) {
  const url = isBuiltin(request)
    ? (request.startsWith("node:") ? request : "node:" + request)
    : pathToFileURL(Module._resolveFilename(request, parent, isMain)).href;
  appendFileSync(logPath, url + "\\n");
  return load.apply(this, arguments);
};
`;

/** The value for node's --import. */
export const MODULE_LOAD_LOG_IMPORT = `data:text/javascript,${encodeURIComponent(REGISTER_SOURCE)}`;
