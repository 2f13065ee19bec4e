// Bench-only fake Truedy: reads the whole body, checks it matches Content-Length, answers a 201 voice.
// Kept minimal (no JSON parse) so the benchmark measures the service, not the fake.
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  let bytes = 0;
  req.on('data', (c) => {
    bytes += c.length;
  });
  req.on('end', () => {
    const expected = Number(req.headers['content-length']);
    const ok = req.headers['transfer-encoding'] === undefined && bytes === expected;
    res.writeHead(ok ? 201 : 400, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify(
        ok
          ? {
              data: { id: 'voice_bench', name: 'bench', type: 'custom', status: 'training' },
              meta: { request_id: 'r' },
            }
          : { error: { code: 'bad_length', message: `got ${bytes}, header ${expected}` } },
      ),
    );
  });
});
// Longer than clients' idle keep-alive, so no request lands on a socket the fake is closing.
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
