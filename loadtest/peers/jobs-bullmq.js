// BullMQ running `loadtest jobs`' scenarios: no-op jobs on one queue in Redis, a Worker
// in this process (concurrency 1,000, as Draftline's worker in the same scenarios).
'use strict';
const { Queue, Worker } = require('bullmq');
const { Redis } = require('ioredis');
const { scenario, now, sleep, until, pool, report, latencies } = require('./jobs-common');

const CONCURRENCY = 1000;

async function main() {
  const connection = () => new Redis(scenario.redisUrl, { maxRetriesPerRequest: null });
  const options = { connection: connection(), prefix: scenario.prefix + 'bullmq' };
  const queue = new Queue('bench', options);
  let ran = 0;
  let started = null;
  const worker = new Worker(
    'bench',
    async () => {
      if (started) started(now());
    },
    { connection: connection(), prefix: options.prefix, concurrency: CONCURRENCY },
  );
  worker.on('completed', () => (ran += 1));
  await worker.waitUntilReady();
  const setup = `Worker concurrency ${CONCURRENCY}`;
  if (scenario.case === 'bulk') {
    const t0 = now();
    for (let done = 0; done < scenario.jobs; done += scenario.batch) {
      const n = Math.min(scenario.batch, scenario.jobs - done);
      await queue.addBulk(Array.from({ length: n }, () => ({ name: 'noop', data: {} })));
    }
    const t1 = await until(() => ran, scenario.jobs);
    report({ jobs_per_s: (scenario.jobs / (t1 - t0)) * 1000, setup });
  } else if (scenario.case === 'single') {
    const t0 = now();
    await pool(scenario.jobs, scenario.inFlight, () => queue.add('noop', {}));
    const t1 = await until(() => ran, scenario.jobs);
    report({ jobs_per_s: (scenario.jobs / (t1 - t0)) * 1000, setup });
  } else {
    await sleep(300);
    const samples = [];
    for (let i = 0; i < scenario.tries; i += 1) {
      const began = new Promise((resolve) => (started = resolve));
      const sent = now();
      await queue.add('noop', {});
      samples.push((await began) - sent);
      started = null;
      await sleep(50);
    }
    report({ ...latencies(samples), setup });
  }
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
