import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ToolId } from '../../lambdas/domain/catalog';
import { FFMPEG_MISSING, type Output, poseChange, tryOn, upscaleImage, upscaleVideo, WorkflowError } from './transform';

/** An input as the workflow's load node sees it: a file uploaded to this provider, or a URL it fetches. */
export type TaskInput = { path: string; contentType: string } | { url: string };

/** What a workflow run needs of its task. */
interface WorkflowTask {
  tool: ToolId;
  params: Record<string, string | number>;
  inputs: Record<string, TaskInput>;
}

const INPUT_FETCH_TIMEOUT_MS = 60_000;

/** Runs the task's workflow on its inputs: what the provider's GPU would do, done by `transform.ts` (ffmpeg for video). */
export async function runWorkflow(task: WorkflowTask, ffmpeg: string | null, signal: AbortSignal): Promise<Output[]> {
  const scale = Number(task.params.scale ?? 2);
  switch (task.tool) {
    case 'upscale-image':
      return [await upscaleImage(await read(task, 'image', signal), scale)];
    case 'pose-changer':
      return [await poseChange(await read(task, 'person', signal), await read(task, 'pose', signal))];
    case 'try-on':
      return [await tryOn(await read(task, 'person', signal), await read(task, 'garment', signal), String(task.params.category ?? 'top'))];
    case 'upscale-video':
      return [await video(task, ffmpeg, scale, signal)];
  }
}

async function video(task: WorkflowTask, ffmpeg: string | null, scale: number, signal: AbortSignal): Promise<Output> {
  if (!ffmpeg) throw new WorkflowError(FFMPEG_MISSING);
  const input = task.inputs.video;
  const scratch = await mkdtemp(join(tmpdir(), 'ghostless-provider-'));
  try {
    let inputPath: string;
    if (input && 'path' in input) inputPath = input.path;
    else {
      inputPath = join(scratch, 'input');
      await writeFile(inputPath, await read(task, 'video', signal));
    }
    const outputPath = join(scratch, 'output.mp4');
    await upscaleVideo(ffmpeg, inputPath, outputPath, scale, signal);
    return { data: await readFile(outputPath), fileType: 'mp4', contentType: 'video/mp4' };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function read(task: WorkflowTask, slot: string, signal: AbortSignal): Promise<Buffer> {
  const input = task.inputs[slot];
  if (!input) throw new WorkflowError(`The workflow received no "${slot}" input`);
  if ('path' in input) return readFile(input.path);
  const response = await fetch(input.url, { signal: AbortSignal.any([signal, AbortSignal.timeout(INPUT_FETCH_TIMEOUT_MS)]) }).catch(
    (error: unknown) => {
      throw new WorkflowError(`The "${slot}" input could not be fetched: ${errorText(error)}`);
    },
  );
  if (!response.ok) throw new WorkflowError(`The "${slot}" input could not be fetched (HTTP ${response.status})`);
  return Buffer.from(await response.arrayBuffer());
}

export function errorText(error: unknown) {
  return error instanceof Error ? error.message : String(error);
}
