import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { TOOLS } from '../../lambdas/domain/catalog';
import { inspectInput, type StoredObject } from '../../lambdas/domain/inspection';
import { imageDimensions, MAX_VIDEO_HEADER_BYTES, videoHeader } from '../../lambdas/domain/media-header';
import { png } from '../support/domain-system';

/**
 * Small real videos made by ffmpeg (test/fixtures/media): 64 × 48 for 1 s unless the name says otherwise; long: 121 s;
 * wide: 1922 × 96; square: 1082 × 1082; portrait: 1080 × 1920.
 */
const media = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/media/${name}`, import.meta.url)));

/** A stored object whose head is its first `headBytes` bytes; the rest is read on demand. */
function stored(bytes: Uint8Array, headBytes = bytes.length): StoredObject {
  return { bytes: bytes.length, head: bytes.slice(0, headBytes), read: async (start, end) => bytes.slice(start, end + 1) };
}

const declared = (contentType: string, size: number) => ({ key: 'k', contentType, size });
const imageLimits = TOOLS['upscale-image'].limits;
const videoLimits = TOOLS['upscale-video'].limits;

describe('inspectInput, images', () => {
  it('accepts a PNG that is what was declared and within the limits', async () => {
    const file = png(4096, 4096);
    expect(await inspectInput(declared('image/png', file.length), stored(file), imageLimits)).toBeNull();
  });

  it('refuses a file whose size is not the declared one', async () => {
    const file = png();
    expect(await inspectInput(declared('image/png', file.length + 1), stored(file), imageLimits)).toBe(
      `The stored file has ${file.length} bytes, but ${file.length + 1} were declared.`,
    );
  });

  it('refuses bytes that are no known type, and a type other than the declared one', async () => {
    const text = new TextEncoder().encode('hello, I am not a picture');
    const file = png();
    expect(await inspectInput(declared('image/png', text.length), stored(text), imageLimits)).toBe('The file is not a image/png file.');
    expect(await inspectInput(declared('image/jpeg', file.length), stored(file), imageLimits)).toBe(
      'The file is image/png, but it was declared as image/jpeg.',
    );
  });

  it('refuses an image over the megapixel limit of the tool, naming its size', async () => {
    const file = png(4100, 4100);
    expect(await inspectInput(declared('image/png', file.length), stored(file), imageLimits)).toBe(
      'The image is 4100 × 4100 pixels (16.8 megapixels); this tool accepts at most 16.8 megapixels.',
    );
    expect(await inspectInput(declared('image/png', file.length), stored(file), {})).toBeNull();
  });

  it('lets the two-image tools take up to 25 megapixels', async () => {
    const fits = png(5000, 5000);
    const over = png(5001, 5000);
    for (const tool of ['pose-changer', 'try-on'] as const) {
      expect(await inspectInput(declared('image/png', fits.length), stored(fits), TOOLS[tool].limits)).toBeNull();
      expect(await inspectInput(declared('image/png', over.length), stored(over), TOOLS[tool].limits)).toMatch(/at most 25 megapixels/);
    }
  });

  it('refuses an image whose header does not give its dimensions', async () => {
    const file = png(0, 0);
    expect(await inspectInput(declared('image/png', file.length), stored(file), imageLimits)).toBe(
      'The image header could not be read, so its dimensions are unknown.',
    );
    expect(imageDimensions(new Uint8Array([1, 2, 3]))).toBeNull();
    expect([imageDimensions(png(8, 0)), imageDimensions(png(0, 6))]).toEqual([null, null]);
    expect(imageDimensions(png(8, 6))).toEqual({ width: 8, height: 6 });
  });
});

describe('inspectInput, videos', () => {
  it('accepts a short, small MP4 and QuickTime file, with its header first or last', async () => {
    for (const [name, type] of [
      ['clip-faststart.mp4', 'video/mp4'],
      ['clip-moov-last.mp4', 'video/mp4'],
      ['clip.mov', 'video/quicktime'],
    ] as const) {
      const file = media(name);
      expect(await inspectInput(declared(type, file.length), stored(file, 64), videoLimits)).toBeNull();
    }
  });

  it('refuses a video longer than the tool accepts', async () => {
    const file = media('long.mp4');
    expect(await inspectInput(declared('video/mp4', file.length), stored(file), videoLimits)).toBe(
      'The video lasts 121 seconds; this tool accepts at most 120 seconds.',
    );
  });

  it('refuses a frame over the limit in either orientation', async () => {
    const wide = media('wide.mp4');
    const square = media('square.mp4');
    const portrait = media('portrait.mp4');
    expect(await inspectInput(declared('video/mp4', wide.length), stored(wide), videoLimits)).toBe(
      'The video is 1922 × 96 pixels; this tool accepts at most 1920 × 1080 (either orientation).',
    );
    expect(await inspectInput(declared('video/mp4', square.length), stored(square), videoLimits)).toBe(
      'The video is 1082 × 1082 pixels; this tool accepts at most 1920 × 1080 (either orientation).',
    );
    expect(await inspectInput(declared('video/mp4', portrait.length), stored(portrait), videoLimits)).toBeNull();
  });

  it('accepts any video when the tool sets no video limits', async () => {
    const file = media('long.mp4');
    expect(await inspectInput(declared('video/mp4', file.length), stored(file), {})).toBeNull();
  });

  it('refuses a file with no video track', async () => {
    const file = media('audio-only.mp4');
    const answer = await inspectInput(declared(sniffedType(file), file.length), stored(file), videoLimits);
    expect(answer).toBe('The video has no readable MP4/QuickTime header with a video track.');
  });
});

describe('videoHeader', () => {
  it('reads duration and frame size from the head when the header comes first', async () => {
    const file = media('clip-faststart.mp4');
    const read = vi.fn();
    expect(await videoHeader(file, file.length, read)).toEqual({ durationSeconds: 1, width: 64, height: 48 });
    expect(read).not.toHaveBeenCalled();
  });

  it('reads only the range where the header is when it comes last', async () => {
    const file = media('clip-moov-last.mp4');
    const read = vi.fn(async (start: number, end: number) => file.slice(start, end + 1));
    const header = await videoHeader(file.slice(0, 64), file.length, read);
    expect(header).toEqual({ durationSeconds: 1, width: 64, height: 48 });
    expect(read).toHaveBeenCalledTimes(1);
    const [start, end] = read.mock.calls[0] as [number, number];
    expect(start).toBeGreaterThan(64);
    expect(end).toBe(file.length - 1);
  });

  it('reads at most the header limit past the head', async () => {
    const file = media('clip-moov-last.mp4');
    const read = vi.fn(async () => new Uint8Array(0));
    await videoHeader(file.slice(0, 64), MAX_VIDEO_HEADER_BYTES * 4, read);
    const [start, end] = read.mock.calls[0] as unknown as [number, number];
    expect(end - start + 1).toBe(MAX_VIDEO_HEADER_BYTES);
  });

  it('answers null for an MP4 without a video track, whether its header comes first or last', async () => {
    const file = media('audio-only.mp4');
    const read = vi.fn(async (start: number, end: number) => file.slice(start, end + 1));
    expect(await videoHeader(file, file.length, read)).toBeNull();
    expect(await videoHeader(file.slice(0, 64), file.length, read)).toBeNull();
  });

  it('answers null for bytes that are not a video, or when the read fails', async () => {
    const file = media('clip-moov-last.mp4');
    expect(await videoHeader(new TextEncoder().encode('not a video at all'), 18, vi.fn())).toBeNull();
    expect(await videoHeader(file.slice(0, 64), file.length, async () => Promise.reject(new Error('gone')))).toBeNull();
  });
});

function sniffedType(file: Uint8Array) {
  // ffmpeg writes an audio-only MP4 with an M4A brand: declare what the bytes say, so only the track is at issue.
  const brand = new TextDecoder().decode(file.slice(8, 12));
  return brand.startsWith('M4A') ? 'audio/mp4' : 'video/mp4';
}
