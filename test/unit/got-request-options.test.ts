import { describe, expect, it } from '@jest/globals';
import got, { Options } from 'got';
import { emptyCacheOptions } from '../../src/upstream/truedy-client.js';

const CACHE_KEYS = ['shared', 'cacheHeuristic', 'immutableMinTimeToLive', 'ignoreCargoCult'];

/** got's options for one request as the client's instance makes them, before its hooks run. */
const requestOptions = () =>
  new Options('http://127.0.0.1:9/voices/clone', { method: 'POST' }, got.defaults.options);

describe('emptyCacheOptions (got beforeRequest hook)', () => {
  it('got alone spreads its cache options into what it hands to http.request', () => {
    // The premise: without the hook, these keys come first in every request's native options.
    const native = requestOptions().createNativeRequestOptions() as Record<string, unknown>;
    for (const key of CACHE_KEYS) expect(Object.keys(native)).toContain(key);
  });

  it('leaves none of them there, and keeps what the request needs', () => {
    const options = requestOptions();
    emptyCacheOptions(options);
    const native = options.createNativeRequestOptions() as Record<string, unknown>;
    for (const key of CACHE_KEYS) expect(Object.keys(native)).not.toContain(key);
    expect(native.method).toBe('POST');
    expect(native.headers).toEqual(options.headers);
  });
});
