import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
} from './semconv.js';
import { ATTR, isTracingOn, TRACER_NAME } from './spans.js';

/** What Express leaves on a request once a route matched it. */
interface RoutedRequest extends IncomingMessage {
  route?: { path?: unknown };
  baseUrl?: string;
}

/**
 * Wraps the server's request listener so that every request runs inside a SERVER span that
 * continues the caller's W3C `traceparent`/`tracestate` (https://www.w3.org/TR/trace-context/),
 * named `METHOD /route/template` once the app has routed it. While tracing is off the listener
 * is returned as it is.
 *
 * Made here rather than by @opentelemetry/instrumentation-http: under native ESM that one patches
 * `node:http` only through the import-in-the-middle loader hook (see the README's Tracing notes).
 */
export function traceRequests(listener: RequestListener): RequestListener {
  if (!isTracingOn()) return listener;
  const tracer = trace.getTracer(TRACER_NAME);
  return (req: IncomingMessage, res: ServerResponse) => {
    const parent = propagation.extract(ROOT_CONTEXT, req.headers);
    const method = req.method ?? 'GET';
    const span = tracer.startSpan(
      method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: method,
          // The path only: a query string is the caller's and could carry anything.
          [ATTR_URL_PATH]: (req.url ?? '/').split('?')[0],
          [ATTR_URL_SCHEME]: 'http',
        },
      },
      parent,
    );
    const active = trace.setSpan(parent, span);
    // Listeners the app adds to the response (the request log line at 'close') run in the span's
    // context even when the socket's events fire them (a client gone mid-upload), so their logs
    // lead to the trace. The request is left alone: what its listeners start is awaited by code
    // that already runs in the span's context, and wrapping each of the body parser's listeners
    // costs CPU on every request.
    context.bind(active, res);
    res.once('close', () => {
      const r = req as RoutedRequest;
      const route = r.route ? `${r.baseUrl ?? ''}${String(r.route.path)}` : undefined;
      if (route) {
        span.updateName(`${method} ${route}`);
        span.setAttribute(ATTR_HTTP_ROUTE, route);
      }
      const requestId = res.getHeader('x-request-id');
      if (typeof requestId === 'string') span.setAttribute(ATTR.requestId, requestId);
      if (res.writableFinished) {
        span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
        // Semantic conventions: a server span is an error for 5xx only; 4xx is the caller's.
        if (res.statusCode >= 500) {
          span.setAttribute(ATTR_ERROR_TYPE, String(res.statusCode));
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
      } else {
        // The client went away before the answer was complete.
        span.setAttribute(ATTR_ERROR_TYPE, 'client_closed');
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'client_closed' });
      }
      span.end();
    });
    context.with(active, () => listener(req, res));
  };
}
