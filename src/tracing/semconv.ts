/**
 * The OpenTelemetry semantic-convention attribute names this service's spans use. Each is typed
 * as @opentelemetry/semantic-conventions' own constant, so `tsc` fails if one differs from the
 * package; the package itself is not loaded at run time: its entry point is about 340 KB of
 * source (imported alone here: about 4 MiB of RSS and 20 ms) for these eleven strings, in every
 * process, traced or not. The SDK, which loads it anyway, is only loaded with an endpoint.
 */
import type * as semconv from '@opentelemetry/semantic-conventions';
import type * as incubating from '@opentelemetry/semantic-conventions/incubating';

export const ATTR_ERROR_TYPE: typeof semconv.ATTR_ERROR_TYPE = 'error.type';
export const ATTR_HTTP_REQUEST_METHOD: typeof semconv.ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
export const ATTR_HTTP_REQUEST_RESEND_COUNT: typeof semconv.ATTR_HTTP_REQUEST_RESEND_COUNT =
  'http.request.resend_count';
export const ATTR_HTTP_RESPONSE_STATUS_CODE: typeof semconv.ATTR_HTTP_RESPONSE_STATUS_CODE =
  'http.response.status_code';
export const ATTR_HTTP_ROUTE: typeof semconv.ATTR_HTTP_ROUTE = 'http.route';
export const ATTR_SERVER_ADDRESS: typeof semconv.ATTR_SERVER_ADDRESS = 'server.address';
export const ATTR_SERVER_PORT: typeof semconv.ATTR_SERVER_PORT = 'server.port';
export const ATTR_URL_PATH: typeof semconv.ATTR_URL_PATH = 'url.path';
export const ATTR_URL_SCHEME: typeof semconv.ATTR_URL_SCHEME = 'url.scheme';
export const ATTR_SERVICE_NAME: typeof semconv.ATTR_SERVICE_NAME = 'service.name';
/** Still incubating in the conventions: the body bytes the socket took. */
export const ATTR_HTTP_REQUEST_BODY_SIZE: typeof incubating.ATTR_HTTP_REQUEST_BODY_SIZE =
  'http.request.body.size';
