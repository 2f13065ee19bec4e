// BENCH-ONLY: the floor of any store-and-forward proxy on this machine. It reads each upload to its
// end and throws it away (no parsing, no disk, no encoding), then sends a ready-made JSON body of
// the size the service would send to the fake upstream. What the service costs beyond this row is
// its own overhead; what this row costs beyond "direct" is receiving-then-sending itself.
import { createServer, request } from 'node:http';

const upstream = new URL(`${process.env.TRUEDY_BASE_URL}/voices/clone`);
const bodyBytes = Number(process.env.RELAY_BODY_BYTES);
const body = Buffer.alloc(bodyBytes, 0x41);

const server = createServer((req, res) => {
  if (req.method !== 'POST') {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    return;
  }
  req.resume();
  req.on('end', () => {
    const out = request(
      upstream,
      { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': bodyBytes } },
      (up) => {
        up.resume();
        up.on('end', () => res.writeHead(up.statusCode ?? 502).end('{}'));
      },
    );
    out.on('error', () => res.writeHead(502).end('{}'));
    out.end(body);
  });
});
server.listen(0, '127.0.0.1', () =>
  process.stdout.write(
    `${JSON.stringify({ msg: 'relay floor listening', url: `http://127.0.0.1:${server.address().port}` })}\n`,
  ),
);
process.on('SIGTERM', () => process.exit(0));
