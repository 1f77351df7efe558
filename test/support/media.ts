import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';

/** Real image bytes, made on the fly, so the magic-byte checks see genuine files. */
export function image(format: 'png' | 'jpeg' | 'webp' = 'png', width = 8, height = 6) {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 40, b: 90 } } })
    .toFormat(format)
    .toBuffer()
    .then((buffer) => new Uint8Array(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.length)) as Uint8Array<ArrayBuffer>);
}

/** The start of an ISO-BMFF file with an mp4 brand: enough for a type sniffer, not a playable video. */
export function mp4Header() {
  const box = Buffer.alloc(32);
  box.writeUInt32BE(32, 0);
  box.write('ftypisom', 4, 'latin1');
  box.writeUInt32BE(512, 12);
  box.write('isomiso2avc1mp41', 16, 'latin1');
  return new Uint8Array(box);
}

export const textFile = (text = 'hello, I am not a picture') => new TextEncoder().encode(text);

/**
 * A real H.264 MP4 (or QuickTime) made by ffmpeg: `faststart` puts the moov box first, otherwise it
 * follows the media data, as most encoders write it.
 */
export async function video(
  options: { width?: number; height?: number; seconds?: number; faststart?: boolean; format?: 'mp4' | 'mov'; noisy?: boolean } = {},
) {
  const { width = 160, height = 120, seconds = 1, faststart = false, format = 'mp4', noisy = false } = options;
  // Noise encoded losslessly does not compress: about 0.45 MB per frame at 640×480, for big-file tests.
  const source = `testsrc=size=${width}x${height}:rate=5${noisy ? ',noise=alls=100:allf=t' : ''}`;
  const dir = await mkdtemp(join(tmpdir(), 'ghostless-video-'));
  const path = join(dir, `clip.${format}`);
  try {
    await promisify(execFile)('ffmpeg', [
      ...['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', source],
      ...['-t', String(seconds), '-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'ultrafast', ...(noisy ? ['-qp', '0'] : [])],
      ...(faststart ? ['-movflags', '+faststart'] : []),
      path,
    ]);
    return new Uint8Array(await readFile(path)) as Uint8Array<ArrayBuffer>;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
