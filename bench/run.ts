import { writeFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runEngineBench } from './engine.js';

const adminUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const quick = process.argv.includes('--quick');
const fmt = (n: number, digits = 2) => n.toFixed(digits);

async function main() {
  const started = new Date();
  process.stdout.write(`engine benchmark against ${new URL(adminUrl).host} ...\n`);
  const r = await runEngineBench(adminUrl, { samples: quick ? 100 : 500, seconds: quick ? 3 : 10, rules: 1000 });
  const ratio = (a: number, b: number) => fmt(a / b);
  const rows = [
    ['floor (insert + webhook + update, bare yoga)', fmt(r.floor.p50One.p50), fmt(r.floor.p50One.p95), fmt(r.floor.rps16, 0), '1.00', '1.00', ''],
    [
      'triggerRule, webhook action',
      fmt(r.trigger.p50One.p50),
      fmt(r.trigger.p50One.p95),
      fmt(r.trigger.rps16, 0),
      ratio(r.trigger.p50One.p50, r.floor.p50One.p50),
      ratio(r.trigger.rps16, r.floor.rps16),
      'p50 <= 1.25x, rps >= 0.8x',
    ],
    ['triggerRule, 3-rule cascade (A -> B -> C webhook)', fmt(r.cascade.p50One.p50), fmt(r.cascade.p50One.p95), '', ratio(r.cascade.p50One.p50, r.floor.p50One.p50), '', 'p50 <= 3x'],
    [`publishEvent, ${r.publish.rules} active rules (${r.publish.matchedPerEvent} matches/event)`, fmt(r.publish.p50One.p50), fmt(r.publish.p50One.p95), fmt(r.publish.rps16, 0), ratio(r.publish.p50One.p50, r.floor.p50One.p50), ratio(r.publish.rps16, r.floor.rps16), ''],
  ];
  const table = [
    '| scenario | p50 ms (1 client) | p95 ms | requests/s (16 clients) | p50 / floor | rps / floor | target |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
  const section = [
    '<!-- engine-bench:start -->',
    `## Engine (issue 3), ${started.toISOString().slice(0, 16)}Z`,
    '',
    `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, PostgreSQL at ${new URL(adminUrl).host}. ${quick ? 'Quick run.' : ''}`,
    '',
    table,
    '',
    'Timed spans: from the client sending the mutation to the full answer, over keep-alive connections, server and load generator in one process, webhook sink in another.',
    '- floor: one INSERT, one pooled undici POST to the sink, one UPDATE (2 commits).',
    '- triggerRule: rule read, the start statement (row + RULE_STARTED, CONDITION_EVALUATED, ACTION_STARTED events), the webhook, the finish statement (row + log line + ACTION_FINISHED, RULE_FINISHED, CASCADE_FINISHED): 2 commits, waits for the whole cascade (wait: true). 16 clients use 16 rules, since a rule runs once at a time.',
    '- 3-rule cascade: 3 executions, 6 commits, 16 cascade events, one webhook.',
    '- publishEvent: answers once the matching rules\' root rows are written; their webhooks run after the answer.',
    '<!-- engine-bench:end -->',
  ].join('\n');
  const file = path.join(import.meta.dirname, '..', 'docs', 'benchmarks.md');
  let doc = await readFile(file, 'utf8').catch(() => '# Benchmarks\n\nProduced by `npm run bench` (needs PostgreSQL: DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/postgres). Never timed assertions in tests.\n');
  doc = /<!-- engine-bench:start -->[\s\S]*<!-- engine-bench:end -->/.test(doc)
    ? doc.replace(/<!-- engine-bench:start -->[\s\S]*<!-- engine-bench:end -->/, section)
    : `${doc.trimEnd()}\n\n${section}\n`;
  await writeFile(file, doc);
  process.stdout.write(`${table}\n\nwritten to docs/benchmarks.md\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
