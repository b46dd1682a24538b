// `--name value` options of the stand-alone bench tools (core-cpu, parallel-floor, profile,
// thread-cpu); run.mjs, startup.mjs, dlm.mjs and renewal-lateness.mjs parse their own lists.

/** The value after `name` in `argv`, or `fallback` when `name` is absent. */
export function stringOption(name, fallback, argv = process.argv) {
  const i = argv.indexOf(name);
  if (i < 0) return fallback;
  const value = argv[i + 1];
  if (value === undefined || value.startsWith("--")) throw new Error(`${name} needs a value`);
  return value;
}

/** As stringOption, read as a number; a value that is not a finite number is an error, not NaN. */
export function numberOption(name, fallback, argv = process.argv) {
  const text = stringOption(name, undefined, argv);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value)) throw new Error(`${name} takes a number, got ${JSON.stringify(text)}`);
  return value;
}
