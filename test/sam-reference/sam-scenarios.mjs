// The scenarios of sam-scenarios.c on @sanlock-ts/client/sam (its URL in SAM_URL), printing the
// same lines; test/sam-reference.test.ts runs both and compares (docs/sam.md §11).
const { Sam } = await import(process.env.SAM_URL);

const scenario = process.argv[2] ?? "";
const quit = scenario === "quit";
const intervalMs = scenario === "exit" ? 0 : 400;
const say = (line) => process.stdout.write(`${line}\n`);
const text = (d) => (d === undefined || d.byteLength === 0 ? undefined : new TextDecoder().decode(d));
const storedCount = (w) => Number(text(w.data) ?? "0");
const storeCount = (w, n) => w.store(new TextEncoder().encode(String(n)));
const hang = () => setInterval(() => {}, 1000); // idle: signal handlers and callbacks still run
/** The csError of a call that must fail, or 1 (CS_OK). */
const errorOf = async (call) => {
  try {
    await call();
    return 1;
  } catch (err) {
    return err.csError;
  }
};

const sam = await Sam.initialize({ intervalMs, policy: quit ? "quit" : "restart", restartLimit: null, status: false });
const w = await sam.register();
const instance = w.instanceId;
say(`instance ${instance} data ${text(w.data) ?? "-"}`);

const onWarn = async () => {
  const count = storedCount(w) + 1;
  await storeCount(w, count);
  say(`instance ${instance} warned ${count}`);
};

if (scenario === "restart") {
  if (instance === 1) await w.setWarnSignal("SIGUSR2");
  if (instance === 1 || instance === 2) w.onWarn(onWarn);
  if (instance === 3) await w.setWarnSignal("SIGKILL");
  if (instance <= 3) {
    await w.start();
    w.heartbeat();
    hang();
  } else {
    const hb = await errorOf(() => w.heartbeat());
    await w.start();
    const start = await errorOf(() => w.start());
    await w.stop();
    const stop = await errorOf(() => w.stop());
    await w.finalize();
    const after = await errorOf(() => w.start());
    say(`instance ${instance} errors ${hb} ${start} ${stop} ${after}`);
    process.exit(0);
  }
} else if (scenario === "hc") {
  if (instance === 1) {
    let calls = 0;
    w.setHealthCheck(async () => {
      calls++;
      await storeCount(w, calls);
      return calls < 3;
    });
    await w.start();
    hang();
  } else process.exit(0);
} else if (scenario === "exit") {
  if (instance === 1) {
    await w.start();
    process.exit(3);
  }
  process.exit(4);
} else if (quit) {
  await w.start();
  w.heartbeat();
  hang();
} else process.exit(92);
