import { describe, expect, it } from '@jest/globals';
import { audioContentType, sniffAudio } from '../../src/upload/sniff.js';
import { audio, notAudio } from '../helpers/kit.js';

describe('sniffAudio', () => {
  it.each([
    ['sample.wav', 'audio/wav'],
    ['sample.mp3', 'audio/mpeg'],
    ['sample.m4a', 'audio/mp4'],
    ['sample.ogg', 'audio/ogg'],
    ['sample.webm', 'audio/webm'],
    ['sample.flac', 'audio/flac'],
  ])('recognizes %s from its bytes as %s', async (file, type) => {
    expect(await sniffAudio(audio(file))).toBe(type);
  });

  it.each(['text-named.mp3', 'image.png', 'random-bytes.bin'])('refuses %s', async (file) => {
    expect(await sniffAudio(notAudio(file))).toBeNull();
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
