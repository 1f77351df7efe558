import { imageSize } from 'image-size';
import { createFile, Log, type MP4BoxBuffer } from 'mp4box';

/** Reads `[start, end]` (inclusive) of the stored object. */
export type RangeReader = (start: number, end: number) => Promise<Uint8Array>;

/** Bytes of a video's header (the moov box) admission will read beyond the head; more is refused. */
export const MAX_VIDEO_HEADER_BYTES = 16 * 1024 * 1024;

// mp4box logs unknown boxes (e.g. QuickTime's ©swr) as warnings: only errors matter here.
Log.setLogLevel(Log.error);

/** Width and height from a PNG IHDR, a JPEG SOFn or a WebP VP8/VP8L/VP8X header, or null if unreadable. */
export function imageDimensions(head: Uint8Array): { width: number; height: number } | null {
  try {
    const { width, height } = imageSize(head);
    return width && height ? { width, height } : null;
  } catch {
    return null;
  }
}

export interface VideoHeader {
  durationSeconds: number;
  width: number;
  height: number;
}

const mp4Buffer = (bytes: Uint8Array, fileStart: number) => {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as MP4BoxBuffer;
  buffer.fileStart = fileStart;
  return buffer;
};

/**
 * Duration and frame size of an MP4/QuickTime file from its moov box. The head is parsed first; when
 * the moov comes later (after the media data, as most encoders write it), mp4box says where, and only
 * that range is read, up to MAX_VIDEO_HEADER_BYTES. Null when there is no readable video track.
 */
export async function videoHeader(head: Uint8Array, size: number, read: RangeReader): Promise<VideoHeader | null> {
  const file = createFile();
  let info: Parameters<NonNullable<typeof file.onReady>>[0] | undefined;
  let failed = false;
  file.onReady = (ready) => {
    info = ready;
  };
  file.onError = () => {
    failed = true;
  };
  try {
    const next = file.appendBuffer(mp4Buffer(head, 0));
    if (!info && !failed && next > 0 && next < size) {
      const end = Math.min(size, next + MAX_VIDEO_HEADER_BYTES) - 1;
      file.appendBuffer(mp4Buffer(await read(next, end), next));
    }
    file.flush();
  } catch {
    return null;
  }
  const track = info?.videoTracks[0];
  if (failed || !info || !track?.video || !info.timescale) return null;
  return { durationSeconds: info.duration / info.timescale, width: track.video.width, height: track.video.height };
}
