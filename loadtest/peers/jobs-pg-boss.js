// pg-boss running `loadtest jobs`' scenarios: no-op jobs in Postgres, `work` in this
// process fetching batches of up to 1,000 at its shortest polling interval (0.5 s);
// pg-boss has no push notification, so polling sets its latency.
'use strict';
const PgBoss = require('pg-boss');
const { scenario, now, sleep, until, pool, report, latencies } = require('./jobs-common');

const BATCH = 1000;
const POLL_SECONDS = 0.5;

async function main() {
  const boss = new PgBoss({ connectionString: scenario.databaseUrl, max: 24 });
  boss.on('error', (e) => console.error(e));
  await boss.start();
  await boss.createQueue('noop');
  let ran = 0;
  let started = null;
  await boss.work('noop', { batchSize: BATCH, pollingIntervalSeconds: POLL_SECONDS }, async (jobs) => {
    if (started) started(now());
    ran += jobs.length;
  });
  const setup = `work batchSize ${BATCH}, polling every ${POLL_SECONDS} s`;
  if (scenario.case === 'bulk') {
    const t0 = now();
    for (let done = 0; done < scenario.jobs; done += scenario.batch) {
      const n = Math.min(scenario.batch, scenario.jobs - done);
      await boss.insert(Array.from({ length: n }, () => ({ name: 'noop', data: {} })));
    }
    const t1 = await until(() => ran, scenario.jobs);
    report({ jobs_per_s: (scenario.jobs / (t1 - t0)) * 1000, setup });
  } else if (scenario.case === 'single') {
    const t0 = now();
    await pool(scenario.jobs, scenario.inFlight, () => boss.send('noop', {}));
    const t1 = await until(() => ran, scenario.jobs);
    report({ jobs_per_s: (scenario.jobs / (t1 - t0)) * 1000, setup });
  } else {
    await sleep(300);
    const samples = [];
    for (let i = 0; i < scenario.tries; i += 1) {
      const began = new Promise((resolve) => (started = resolve));
      const sent = now();
      await boss.send('noop', {});
      samples.push((await began) - sent);
      started = null;
      await sleep(50);
    }
    report({ ...latencies(samples), setup });
  }
  await boss.stop({ graceful: false, wait: false });
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
