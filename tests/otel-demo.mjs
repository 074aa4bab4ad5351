// The README's poolgate/otel example with the real SDK: `cd tests && node otel-demo.mjs`.
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { ConnectionPool } from 'poolgate';
import { instrumentPool } from 'poolgate/otel';

const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
const provider = new MeterProvider({ readers: [reader] });

const pool = new ConnectionPool({ maxConnections: 5, queueTimeoutMs: 150 });
instrumentPool(pool, { poolName: 'orders', meter: provider.getMeter('app') });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// 10 operations of 20 ms through 5 slots, then 3 callers that give up after 150 ms behind 5 of 400 ms.
await Promise.all(Array.from({ length: 10 }, () => pool.run(() => sleep(20))));
const long = Array.from({ length: 5 }, () => pool.run(() => sleep(400)));
await Promise.allSettled(Array.from({ length: 3 }, () => pool.run(() => sleep(1))));
await Promise.all(long);

await reader.forceFlush();
for (const m of exporter.getMetrics()[0].scopeMetrics[0].metrics) {
  for (const p of m.dataPoints) {
    const v =
      typeof p.value === 'number'
        ? p.value
        : `count ${p.value.count}, sum ${p.value.sum.toFixed(3)}, max ${p.value.max.toFixed(3)}`;
    console.log(`${m.descriptor.name} ${m.descriptor.unit} ${JSON.stringify(p.attributes)} ${v}`);
  }
}
await provider.shutdown();
