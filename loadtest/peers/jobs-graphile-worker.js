// graphile-worker running `loadtest jobs`' scenarios: no-op jobs in Postgres, a runner
// in this process. Its concurrency is a pool of Postgres connections, so it runs at 24
// (the pool size Draftline's harness gives its own store), not 1,000.
'use strict';
const { run, makeWorkerUtils } = require('graphile-worker');
const { scenario, now, sleep, until, pool, report, latencies } = require('./jobs-common');

const CONCURRENCY = 24;

async function main() {
  const connectionString = scenario.databaseUrl;
  const utils = await makeWorkerUtils({ connectionString });
  await utils.migrate();
  let ran = 0;
  let started = null;
  const runner = await run({
    connectionString,
    concurrency: CONCURRENCY,
    maxPoolSize: CONCURRENCY + 2,
    noHandleSignals: true,
    pollInterval: 1000,
    logger: new (require('graphile-worker').Logger)(() => () => {}),
    taskList: {
      noop: async () => {
        if (started) started(now());
      },
    },
  });
  runner.events.on('job:success', () => (ran += 1));
  const setup = `concurrency ${CONCURRENCY}, LISTEN/NOTIFY with 1 s polling`;
  if (scenario.case === 'bulk') {
    const t0 = now();
    for (let done = 0; done < scenario.jobs; done += scenario.batch) {
      const n = Math.min(scenario.batch, scenario.jobs - done);
      // One call per batch: graphile-worker's `add_jobs` SQL function (its bulk API).
      await utils.withPgClient((client) =>
        client.query(
          "select graphile_worker.add_jobs(array(select json_populate_record(null::graphile_worker.job_spec, '{\"identifier\": \"noop\", \"payload\": {}}') from generate_series(1, $1)))",
          [n],
        ),
      );
    }
    const t1 = await until(() => ran, scenario.jobs);
    report({ jobs_per_s: (scenario.jobs / (t1 - t0)) * 1000, setup });
  } else if (scenario.case === 'single') {
    const t0 = now();
    await pool(scenario.jobs, scenario.inFlight, () => utils.addJob('noop', {}));
    const t1 = await until(() => ran, scenario.jobs);
    report({ jobs_per_s: (scenario.jobs / (t1 - t0)) * 1000, setup });
  } else {
    await sleep(300);
    const samples = [];
    for (let i = 0; i < scenario.tries; i += 1) {
      const began = new Promise((resolve) => (started = resolve));
      const sent = now();
      await utils.addJob('noop', {});
      samples.push((await began) - sent);
      started = null;
      await sleep(50);
    }
    report({ ...latencies(samples), setup });
  }
  await runner.stop();
  await utils.release();
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
