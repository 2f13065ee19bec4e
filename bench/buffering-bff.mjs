// BENCH-ONLY: the straightforward buffering implementation the issue compares against. Not used by the
// service. multer's memory storage, whole-file base64 strings, JSON.stringify, one got POST.
import express from 'express';
import got from 'got';
import multer from 'multer';

const upstream = process.env.TRUEDY_BASE_URL;
const key = process.env.TRUEDY_API_KEY;
const app = express();
const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: 64 * 1024 * 1024 } });
app.get('/healthz', (_req, res) => res.json({ status: 'ok' }));
app.post('/api/voices/clone', upload.array('files'), async (req, res) => {
  const body = {
    name: req.body.name,
    files: req.files.map((f) => ({
      filename: f.originalname,
      data: f.buffer.toString('base64'),
      content_type: 'audio/wav',
    })),
  };
  const r = await got.post(`${upstream}/voices/clone`, {
    json: body,
    headers: { authorization: `Bearer ${key}` },
    throwHttpErrors: false,
    responseType: 'json',
  });
  res.status(r.statusCode).json({ data: r.body.data, meta: {} });
});
const server = app.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () =>
  process.stdout.write(
    `${JSON.stringify({ msg: 'truedy-voice-bff listening', url: `http://127.0.0.1:${server.address().port}` })}\n`,
  ),
);
process.on('SIGTERM', () => process.exit(0));
