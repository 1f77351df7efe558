import { execFile } from 'node:child_process';
import sharp from 'sharp';

/** The real work behind the local provider's workflows: sharp for images, ffmpeg (when installed) for video. */

interface Media {
  data: Buffer;
  contentType: string;
}

export interface Output extends Media {
  /** RunningHub's `fileType`: the output's extension. */
  fileType: string;
}

const IMAGE_TYPES = {
  jpeg: { fileType: 'jpg', contentType: 'image/jpeg' },
  png: { fileType: 'png', contentType: 'image/png' },
  webp: { fileType: 'webp', contentType: 'image/webp' },
} as const;

/** Raised with a sentence the task's failedReason shows as is. */
export class WorkflowError extends Error {
  override name = 'WorkflowError';
}

/** Displayed size, after the EXIF orientation a viewer applies (orientations 5-8 swap the axes). */
async function displaySize(input: Buffer) {
  const meta = await sharp(input)
    .metadata()
    .catch(() => {
      throw new WorkflowError('The input is not an image the workflow can read');
    });
  const swap = (meta.orientation ?? 1) >= 5;
  return { width: swap ? meta.height : meta.width, height: swap ? meta.width : meta.height, format: meta.format };
}

/** Output exactly `scale` times the input's displayed size, in the input's own format. */
export async function upscaleImage(input: Buffer, scale: number): Promise<Output> {
  const { width, height, format } = await displaySize(input);
  const target = format === 'jpeg' || format === 'webp' ? format : 'png';
  const data = await sharp(input)
    .rotate()
    .resize(Math.round(width * scale), Math.round(height * scale), { fit: 'fill', kernel: 'lanczos3' })
    .toFormat(target)
    .toBuffer();
  return { data, ...IMAGE_TYPES[target] };
}

/** Pose changer stand-in: the person and the pose reference side by side at the person's height. */
export async function poseChange(person: Buffer, pose: Buffer): Promise<Output> {
  const p = await displaySize(person);
  const posed = await sharp(pose).rotate().resize({ height: p.height }).png().toBuffer({ resolveWithObject: true });
  const data = await sharp({ create: { width: p.width + posed.info.width, height: p.height, channels: 3, background: '#ffffff' } })
    .composite([
      { input: await sharp(person).rotate().toBuffer(), left: 0, top: 0 },
      { input: posed.data, left: p.width, top: 0 },
    ])
    .png()
    .toBuffer();
  return { data, fileType: 'png', contentType: 'image/png' };
}

/** Where the garment goes on the person, as fractions of the person's size. */
const GARMENT_PLACEMENT = {
  top: { width: 0.5, height: 0.35, top: 0.2 },
  bottom: { width: 0.45, height: 0.4, top: 0.55 },
  full: { width: 0.6, height: 0.7, top: 0.2 },
} as const;

/** Try-on stand-in: the garment pasted, centred, over the body region its category names. */
export async function tryOn(person: Buffer, garment: Buffer, category: string): Promise<Output> {
  const p = await displaySize(person);
  const place = GARMENT_PLACEMENT[category as keyof typeof GARMENT_PLACEMENT] ?? GARMENT_PLACEMENT.top;
  const box = { width: Math.max(1, Math.round(p.width * place.width)), height: Math.max(1, Math.round(p.height * place.height)) };
  const fitted = await sharp(garment)
    .rotate()
    .resize({ ...box, fit: 'inside' })
    .png()
    .toBuffer({ resolveWithObject: true });
  const data = await sharp(person)
    .rotate()
    .composite([
      {
        input: fitted.data,
        left: Math.round((p.width - fitted.info.width) / 2),
        top: Math.min(p.height - fitted.info.height, Math.round(p.height * place.top)),
      },
    ])
    .png()
    .toBuffer();
  return { data, fileType: 'png', contentType: 'image/png' };
}

/** Resolves to the ffmpeg command if one runs, else null. */
export function findFfmpeg(command = 'ffmpeg'): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(command, ['-version'], { timeout: 10_000 }, (error) => resolve(error ? null : command));
  });
}

export const FFMPEG_MISSING = 'ffmpeg is not installed on the local provider';

/** Rescales a video by `scale` (H.264 mp4 out; audio kept when present). */
export function upscaleVideo(ffmpeg: string, inputPath: string, outputPath: string, scale: number, signal: AbortSignal): Promise<void> {
  const factor = Math.max(1, Math.round(scale));
  const args = ['-hide_banner', '-loglevel', 'error', '-y', '-i', inputPath];
  args.push('-vf', `scale=trunc(iw*${factor}/2)*2:trunc(ih*${factor}/2)*2`, '-c:v', 'libx264', '-preset', 'veryfast');
  args.push('-pix_fmt', 'yuv420p', '-c:a', 'aac', '-movflags', '+faststart', outputPath);
  return new Promise((resolve, reject) => {
    execFile(ffmpeg, args, { signal, timeout: 10 * 60_000, maxBuffer: 4 * 1024 * 1024 }, (error, _stdout, stderr) => {
      if (!error) return resolve();
      if (signal.aborted) return reject(error);
      const detail = String(stderr).trim().split('\n').slice(-2).join(' ');
      reject(new WorkflowError(`ffmpeg could not rescale the video${detail ? `: ${detail}` : ''}`));
    });
  });
}
