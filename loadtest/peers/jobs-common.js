// What the job runners share: reading the scenario from the environment, timing, and
// printing the one JSON line `loadtest jobs-peer` reads.
'use strict';

function intEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    console.error(`${name} must be a positive integer, got ${raw}`);
    process.exit(2);
  }
  return value;
}

const scenario = {
  case: process.env.CASE,
  jobs: intEnv('JOBS', 1000),
  batch: intEnv('BATCH', 1000),
  inFlight: intEnv('IN_FLIGHT', 50),
  tries: intEnv('TRIES', 50),
  databaseUrl: process.env.DATABASE_URL,
  redisUrl: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
  prefix: process.env.PREFIX || 'bench',
};
if (!['bulk', 'single', 'latency'].includes(scenario.case)) {
  console.error(`CASE must be bulk, single or latency, got ${scenario.case}`);
  process.exit(2);
}

const now = () => Number(process.hrtime.bigint()) / 1e6; // milliseconds
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Resolves once `count()` reaches `total`, checking every millisecond.
async function until(count, total, timeoutMs = 600000) {
  const deadline = now() + timeoutMs;
  while (count() < total) {
    if (now() > deadline) throw new Error(`only ${count()} of ${total} jobs ran`);
    await sleep(1);
  }
  return now();
}

// Runs `calls` calls of `call`, `inFlight` at a time.
async function pool(calls, inFlight, call) {
  let next = 0;
  const lanes = Array.from({ length: Math.min(inFlight, calls) }, async () => {
    while (next < calls) {
      next += 1;
      await call();
    }
  });
  await Promise.all(lanes);
}

function percentile(sorted, p) {
  const i = Math.min(sorted.length, Math.max(1, Math.ceil(sorted.length * p))) - 1;
  return sorted[i];
}

function report(figures) {
  console.log(JSON.stringify(figures));
}

function latencies(samples) {
  samples.sort((a, b) => a - b);
  return {
    p50_ms: percentile(samples, 0.5),
    p99_ms: percentile(samples, 0.99),
    max_ms: samples[samples.length - 1],
  };
}

module.exports = { scenario, now, sleep, until, pool, report, latencies };
