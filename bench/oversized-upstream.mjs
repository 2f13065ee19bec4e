// BENCH-ONLY fake Truedy whose answer the service must not read whole (SPEC UPSTREAM_MAX_RESPONSE_BYTES).
// The request's X-Request-Id (which the service passes on) picks the answer:
//   huge-*: a 300 MiB JSON-looking body, streamed as fast as the service reads it;
//   bomb-*: a gzip body of about 300 KiB that inflates to 300 MiB (Content-Encoding: gzip);
//   anything else: an ordinary 201 voice, for warming the service up.
import { createServer } from 'node:http';
import { gzipSync } from 'node:zlib';

const MiB = 1024 * 1024;
const HUGE = 300 * MiB;
const piece = Buffer.alloc(64 * 1024, 0x20);
// Built once: 300 MiB of spaces inflate from a few hundred KiB (level 9).
const bomb = gzipSync(Buffer.alloc(HUGE, 0x20), { level: 9 });
const voice = JSON.stringify({
  data: { id: 'voice_bench', name: 'bench', type: 'custom', status: 'training' },
  meta: { request_id: 'r' },
});

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const id = String(req.headers['x-request-id'] ?? '');
    if (id.startsWith('bomb-')) {
      res.writeHead(201, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      res.end(bomb);
    } else if (id.startsWith('huge-')) {
      res.writeHead(201, { 'content-type': 'application/json', 'content-length': HUGE });
      const start = '{"data":{"id":"v","pad":"';
      res.write(start);
      let sent = start.length;
      const more = () => {
        while (sent < HUGE) {
          const n = Math.min(piece.length, HUGE - sent);
          sent += n;
          if (!res.write(n === piece.length ? piece : piece.subarray(0, n))) return res.once('drain', more);
        }
        res.end();
      };
      more();
      // The service hangs up once it has read its limit: stop producing.
      res.once('close', () => {
        sent = HUGE;
      });
    } else {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(voice);
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
