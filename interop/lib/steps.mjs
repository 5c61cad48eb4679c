// One PASS/FAIL line per flow: "PASS <peer>: <flow>". Once a step fails, the
// later steps (which depend on it) are reported as failed without running.

export function reporter(peer) {
  let failed = false;
  let passes = 0;
  let failures = 0;
  return {
    async step(flow, fn) {
      if (failed) {
        console.log(`FAIL ${peer}: ${flow} (not run: an earlier step failed)`);
        failures++;
        return undefined;
      }
      try {
        const out = await fn();
        console.log(`PASS ${peer}: ${flow}`);
        passes++;
        return out;
      } catch (e) {
        failed = true;
        failures++;
        console.log(`FAIL ${peer}: ${flow}: ${String(e?.message ?? e).split('\n')[0]}`);
        console.error(`--- ${peer}: ${flow} failed ---`);
        console.error(e?.stack ?? e);
        if (e?.cause) console.error('cause:', e.cause);
        return undefined;
      }
    },
    get ok() {
      return !failed;
    },
    summary() {
      return { passes, failures };
    },
  };
}
