// BENCH-ONLY: the floor of the project's own stack for a small clone. express 5, multer 2's memory
// storage and one got POST of the JSON body built straight into one buffer, and nothing else: none
// of the steps SPEC asks of the service (log lines, audit trail, sha256, audio checks, identity,
// origin guard, rate limit, security headers, idempotency, pacing gate, answer normalization).
// What the service costs beyond this row is those steps; what this row costs is the stack itself.
import express from 'express';
import got from 'got';
import multer from 'multer';

const upstream = `${process.env.TRUEDY_BASE_URL}/voices/clone`;
const http = got.extend({
  headers: { authorization: `Bearer ${process.env.TRUEDY_API_KEY}`, 'content-type': 'application/json' },
  retry: { limit: 0 },
  throwHttpErrors: false,
});
const app = express();
const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: 64 * 1024 * 1024 } });
app.get('/healthz', (_req, res) => res.json({ status: 'ok' }));
app.post('/api/voices/clone', upload.array('files'), async (req, res) => {
  const parts = [Buffer.from(`{"name":${JSON.stringify(req.body.name)},"files":[`)];
  req.files.forEach((f, i) => {
    parts.push(
      Buffer.from(`${i ? ',' : ''}{"filename":${JSON.stringify(f.originalname)},"data":"`),
      Buffer.from(f.buffer.toString('base64'), 'latin1'),
      Buffer.from('","content_type":"audio/wav"}'),
    );
  });
  parts.push(Buffer.from(']}'));
  const r = await http.post(upstream, { body: Buffer.concat(parts), responseType: 'json' });
  res.status(r.statusCode).json({ data: r.body.data, meta: {} });
});
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () =>
  process.stdout.write(
    `${JSON.stringify({ msg: 'stack floor listening', url: `http://127.0.0.1:${server.address().port}` })}\n`,
  ),
);
process.on('SIGTERM', () => process.exit(0));
