// The tracing SDK started inside a test file (each Jest test file has its own module context, so
// its own global tracer provider), exporting to a real OTLP/HTTP receiver of the file's own.
import { startTracing } from '../../src/tracing/tracing.js';
import { type OtlpReceiver, startOtlpReceiver } from './otlp-receiver.js';
import { suiteResource } from './suite.js';

/**
 * For a test file: before its tests, a receiver and the SDK exporting to it (batches every 20 ms),
 * configured through the OTEL_* variables as the service is; after them, the SDK shut down (what it
 * holds is flushed), the receiver closed and the variables removed. Returns the receiver, and
 * `flush()`: every span ended so far has reached it once that resolves (batches exported on a busy
 * machine may arrive late or out of order, so a test that reads a whole trace flushes first).
 */
export function suiteTracing(serviceName: string): (() => OtlpReceiver) & { flush(): Promise<void> } {
  const running = suiteResource(
    async () => {
      const receiver = await startOtlpReceiver();
      const env = receiver.exportEnv(20);
      Object.assign(process.env, env);
      return { receiver, env, tracing: await startTracing({ serviceName }) };
    },
    async ({ receiver, env, tracing }) => {
      await tracing.shutdown(2000);
      await receiver.close();
      for (const name of Object.keys(env)) delete process.env[name];
    },
  );
  return Object.assign(() => running().receiver, { flush: () => running().tracing.flush() });
}
