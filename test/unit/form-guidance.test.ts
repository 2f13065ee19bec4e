import { describe, expect, it } from '@jest/globals';
import { formatSeconds, guidance, lengthProblems } from '../../src/web/guidance.js';
import { recorderType, recordingName } from '../../src/web/recorder.js';

const none = { minAudioSeconds: 0, maxAudioSeconds: 0 };

describe('the form’s guidance on audio length', () => {
  it('formats lengths in tenths under a minute and m:ss above', () => {
    expect(formatSeconds(2)).toBe('2.0 s');
    expect(formatSeconds(1.99997)).toBe('2.0 s');
    expect(formatSeconds(59.94)).toBe('59.9 s');
    expect(formatSeconds(59.96)).toBe('1:00 min');
    expect(formatSeconds(65.2)).toBe('1:05 min');
    expect(formatSeconds(600)).toBe('10:00 min');
  });

  it('says what to aim for, warns under a minute, approves 1–3 minutes, and notes more barely helps', () => {
    expect(guidance(0, 0, 0, none)).toEqual({
      text: 'Aim for 1–2 minutes of clean speech from one speaker, in one or more files.',
      warn: false,
    });
    expect(guidance(4, 2, 0, none)).toEqual({
      text: 'Total: 4.0 s of audio. Under a minute: 1–2 minutes of clean speech gives a better voice.',
      warn: true,
    });
    expect(guidance(60, 1, 0, none).warn).toBe(false);
    expect(guidance(180, 1, 0, none).text).toContain('Good: 1–2 minutes');
    expect(guidance(181, 1, 0, none).text).toContain('More than 3 minutes rarely makes the voice better.');
  });

  it('counts files this browser could not measure, and states the server’s limits', () => {
    expect(guidance(2, 2, 1, none).text).toContain('One file could not be measured in this browser');
    expect(guidance(2, 3, 2, none).text).toContain('2 files could not be measured');
    expect(guidance(0, 0, 0, { minAudioSeconds: 30, maxAudioSeconds: 0 }).text).toContain(
      'This service needs at least 30 s of audio in all.',
    );
    expect(guidance(0, 0, 0, { minAudioSeconds: 0, maxAudioSeconds: 300 }).text).toContain(
      'This service takes at most 5:00 min of audio in all.',
    );
    expect(guidance(0, 0, 0, { minAudioSeconds: 3, maxAudioSeconds: 5 }).text).toContain(
      'This service needs 3 s to 5 s of audio in all.',
    );
  });

  it('refuses only what is certainly outside MIN/MAX_AUDIO_SECONDS, with numbers that never read as the limit', () => {
    const limits = { minAudioSeconds: 30, maxAudioSeconds: 60 };
    expect(lengthProblems(30, 0, limits)).toEqual([]);
    expect(lengthProblems(60, 0, limits)).toEqual([]);
    expect(lengthProblems(29.97, 0, limits)).toEqual([
      'The audio adds up to 29.97 s; at least 30 s is needed.',
    ]);
    expect(lengthProblems(60.04, 0, limits)).toEqual([
      'The audio adds up to 60.04 s; at most 60 s is allowed.',
    ]);
    expect(lengthProblems(12, 0, limits)).toEqual(['The audio adds up to 12.0 s; at least 30 s is needed.']);
    // A file of unknown length may make up the difference: the server decides.
    expect(lengthProblems(12, 1, limits)).toEqual([]);
    // Too long is too long whatever the unknown files hold.
    expect(lengthProblems(61, 1, limits)).toHaveLength(1);
    expect(lengthProblems(0, 0, none)).toEqual([]);
  });
});

describe('recording names and containers', () => {
  it('names recordings in turn with the extension of what the browser made', () => {
    expect(recordingName(1, 'audio/webm;codecs=opus')).toBe('recording-1.webm');
    expect(recordingName(2, 'audio/ogg; codecs=opus')).toBe('recording-2.ogg');
    expect(recordingName(3, 'audio/mp4')).toBe('recording-3.m4a');
    expect(recordingName(4, '')).toBe('recording-4.webm');
  });

  it('prefers WebM/Opus, then Ogg/Opus, and leaves the choice to the browser when it knows none', () => {
    expect(recorderType(() => true)).toBe('audio/webm;codecs=opus');
    expect(recorderType((t) => t.startsWith('audio/ogg'))).toBe('audio/ogg;codecs=opus');
    expect(recorderType((t) => t === 'audio/mp4')).toBe('audio/mp4');
    expect(recorderType(() => false)).toBeUndefined();
  });
});
