// Bench-only OTLP/HTTP trace sink: takes `POST /v1/traces` (JSON, what the service's exporter sends),
// counts export requests, bytes and spans, and answers 200; `GET /stats` reports the counts, so the
// benchmark can show that the traced service really exported while it was measured.
import { createServer } from 'node:http';

const stats = { exports: 0, bytes: 0, spans: 0 };
const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    stats.exports += 1;
    stats.bytes += body.length;
    // Spans are counted by their id field, without decoding the whole export.
    stats.spans += body.toString('latin1').split('"spanId"').length - 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
