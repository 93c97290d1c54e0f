import { it } from 'vitest';
import { startFreshApp } from './support/harness.js';
import { startSink } from './support/sink.js';
import { createRule } from './engine/helpers.js';
it('deep payload webhook', async () => {
  const sink = await startSink();
  const app = await startFreshApp('embedded');
  const rule = await createRule(app, { actionSpec: { type: 'webhook', endpoint: `${sink.url}/json`, method: 'POST', body: '{{payload}}', timeoutMs: 2000 } });
  for (const kind of ['arr', 'obj0', 'mixed']) for (const levels of [8, 12, 14, 16]) {
    let p: any = null;
    for (let i = 0; i < levels; i++) p = kind === 'arr' ? [p] : kind === 'obj0' ? { '0': p } : i % 2 ? [p] : { '0': p };
    const t0 = Date.now();
    const r = await app.gql(`mutation($id: ID!, $p: JSON) { triggerRule(ruleId: $id, payload: $p) { status } }`, { id: rule.id, p: { deep: p } });
    process.stderr.write(`R ${kind} ${levels} ${Date.now() - t0} ${JSON.stringify(r).slice(0, 100)}\n`);
  }
  await app.stop(); await sink.close();
}, 120000);
