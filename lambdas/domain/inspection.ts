import { fileTypeFromBuffer } from 'file-type';
import type { MediaLimits } from './catalog';
import type { UploadIntent } from './jobs';
import { imageDimensions, type RangeReader, videoHeader } from './media-header';

/**
 * How many leading bytes admission reads: enough to recognise every accepted type and to reach a JPEG's
 * SOF marker behind large EXIF/ICC segments, and often an MP4's whole moov box.
 */
export const SNIFF_BYTES = 256 * 1024;

export interface StoredObject {
  bytes: number;
  head: Uint8Array;
  /** Reads further into the object (a video whose header sits at its end). */
  read: RangeReader;
}

const megapixels = (width: number, height: number) => (width * height) / 1_000_000;

/**
 * Compares what S3 really holds with what the client declared and with the tool's limits. Returns why
 * the input is unacceptable, as a sentence naming the limit, or null. The bytes decide: a text file
 * named .png is not a PNG, and a 389 KB PNG can still be 20000 × 20000 pixels.
 */
export async function inspectInput(
  declared: UploadIntent['files'][string],
  actual: StoredObject,
  limits: MediaLimits,
): Promise<string | null> {
  if (actual.bytes !== declared.size) {
    return `The stored file has ${actual.bytes} bytes, but ${declared.size} were declared.`;
  }
  const sniffed = await fileTypeFromBuffer(actual.head);
  if (!sniffed) return `The file is not a ${declared.contentType} file.`;
  if (sniffed.mime !== declared.contentType) {
    return `The file is ${sniffed.mime}, but it was declared as ${declared.contentType}.`;
  }
  return declared.contentType.startsWith('video/') ? checkVideo(actual, limits) : checkImage(actual, limits);
}

function checkImage(actual: StoredObject, limits: MediaLimits): string | null {
  const size = imageDimensions(actual.head);
  if (!size) return 'The image header could not be read, so its dimensions are unknown.';
  const max = limits.maxMegapixels;
  if (max !== undefined && megapixels(size.width, size.height) > max) {
    return `The image is ${size.width} × ${size.height} pixels (${megapixels(size.width, size.height).toFixed(1)} megapixels); this tool accepts at most ${max} megapixels.`;
  }
  return null;
}

async function checkVideo(actual: StoredObject, limits: MediaLimits): Promise<string | null> {
  const header = await videoHeader(actual.head, actual.bytes, actual.read);
  if (!header) return 'The video has no readable MP4/QuickTime header with a video track.';
  const video = limits.video;
  if (!video) return null;
  if (!(header.durationSeconds > 0)) return 'The video header does not state a duration.';
  if (header.durationSeconds > video.maxSeconds) {
    return `The video lasts ${Math.round(header.durationSeconds)} seconds; this tool accepts at most ${video.maxSeconds} seconds.`;
  }
  const [long, short] = [Math.max(header.width, header.height), Math.min(header.width, header.height)];
  if (long > video.maxLongSide || short > video.maxShortSide) {
    return `The video is ${header.width} × ${header.height} pixels; this tool accepts at most ${video.maxLongSide} × ${video.maxShortSide} (either orientation).`;
  }
  return null;
}
