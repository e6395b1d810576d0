// What a TypeScript user writes against warmup-client, compiled by
// test_node_client with `tsc --strict` (module nodenext) against the
// installed package: the calls type-check, and each mistake marked as
// expected to be an error is caught by the types (tsc fails if not).
import { WarmupClient, WarmupError, type Usage, type Prediction } from 'warmup-client';
import { WarmupBus, type BusEvent } from 'warmup-client/bus';

export async function ide(): Promise<string[]> {
  const client = new WarmupClient({ url: 'http://127.0.0.1:11435', timeoutMs: 1000 });
  const usage: Usage = { user: 'alice', model: 'qwen-coder', task: 'chat', outcome: 'cold', wait_ms: 900 };
  const accepted: number = await client.observe([usage, { user: 'alice', model: 'qwen-coder' }]);
  await client.intent({ user: 'alice', kind: 'chat.opened', model: 'qwen-coder', task: 'chat' });
  const prediction: Prediction = await client.predict({ user: 'alice', task: 'completion', warm: false });
  const seen: string[] = prediction.models.map((m) => `${m.model} ${m.probability.toFixed(3)} ${m.state}`);
  // @ts-expect-error: not a task
  await client.observe({ user: 'alice', model: 'm', task: 'dance' });
  // @ts-expect-error: a usage event needs its model
  const incomplete: Usage = { user: 'alice' };
  // @ts-expect-error: the url is required
  new WarmupClient({ timeoutMs: 5 });

  const bus = await WarmupBus.connect({ publish: 'tcp://127.0.0.1:5701', subscribe: 'tcp://127.0.0.1:5702', events: ['prediction', 'warmup.done'] });
  await bus.observe(usage);
  const event: BusEvent | null = await bus.next(1000);
  if (event?.type === 'prediction') seen.push(...event.models.map((m) => m.model));
  else if (event) seen.push(`${event.model} ${event.warm ? 'loaded' : 'unloaded'} ${event.ok}`);
  // @ts-expect-error: not an event one can subscribe to
  await WarmupBus.connect({ publish: 'a', subscribe: 'b', events: ['usage.observed'] });
  bus.close();
  try {
    await client.predict();
  } catch (error) {
    if (error instanceof WarmupError) seen.push(`${error.code} ${error.status} ${error.field}`);
  }
  return [String(accepted), String(incomplete), ...seen];
}
