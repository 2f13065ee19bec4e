// The upstream worker thread: sends the attempts the service hands it (see attempt-transport.ts).
// It loads got and the body encoder only, and logs nothing: results go back to the service, which
// logs, traces and decides retries.
import { parentPort } from 'node:worker_threads';
import { type FromWorker, fromWire, type ToWorker } from './attempt-transport.js';
import { sendAttempt } from './send-attempt.js';

const port = parentPort;
if (!port) throw new Error('attempt-worker.ts runs as a worker thread only');

const running = new Map<number, AbortController>();

port.on('message', (m: ToWorker) => {
  if (m.type === 'abort') {
    running.get(m.id)?.abort();
    return;
  }
  const controller = new AbortController();
  running.set(m.id, controller);
  const reply = (attempt: FromWorker['attempt']) =>
    port.postMessage({ id: m.id, attempt } satisfies FromWorker);
  sendAttempt(fromWire(m.request), controller.signal)
    .then(reply, (error: Error) =>
      reply({ result: { kind: 'network', message: error.message }, bytesSent: 0 }),
    )
    .finally(() => running.delete(m.id));
});
