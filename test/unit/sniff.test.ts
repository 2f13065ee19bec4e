import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { audioContentType, sniffAudio } from '../../src/audio/sniff.js';
import { audio, notAudio } from '../helpers/fixtures.js';

describe('sniffAudio', () => {
  it.each([
    ['sample.wav', 'audio/wav'],
    ['sample.mp3', 'audio/mpeg'],
    ['sample.m4a', 'audio/mp4'],
    ['sample.ogg', 'audio/ogg'],
    ['sample.webm', 'audio/webm'],
    ['sample.flac', 'audio/flac'],
  ])('recognizes %s from its bytes as %s', async (file, type) => {
    const path = audio(file);
    const bytes = readFileSync(path);
    // From the leading bytes alone, from a spooled file and from memory when the head is not enough.
    expect(await sniffAudio(bytes.subarray(0, 4100), { path })).toBe(type);
    expect(await sniffAudio(Buffer.alloc(0), { path })).toBe(type);
    expect(await sniffAudio(Buffer.alloc(0), { bytes })).toBe(type);
  });

  it.each(['text-named.mp3', 'image.png', 'random-bytes.bin'])('refuses %s', async (file) => {
    const path = notAudio(file);
    expect(await sniffAudio(readFileSync(path).subarray(0, 4100), { path })).toBeNull();
  });

  it('calls WebM and MP4 containers audio, and refuses non-audio types', () => {
    expect(audioContentType({ ext: 'webm', mime: 'video/webm' })).toBe('audio/webm');
    expect(audioContentType({ ext: 'mp4', mime: 'video/mp4' })).toBe('audio/mp4');
    expect(audioContentType({ ext: 'aac', mime: 'audio/aac' })).toBe('audio/aac');
    expect(audioContentType({ ext: 'png', mime: 'image/png' })).toBeNull();
    expect(audioContentType({ ext: 'mid', mime: 'audio/midi' })).toBeNull();
    expect(audioContentType(undefined)).toBeNull();
  });
});
