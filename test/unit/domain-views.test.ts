import { describe, expect, it } from 'vitest';
import type { JobRecord, JobStatus } from '../../lambdas/domain/jobs';
import type { FileStore, JobStore } from '../../lambdas/domain/ports';
import { downloadName, jobViews } from '../../lambdas/domain/views';

const record = (status: JobStatus, outputs: JobRecord['outputs'] = []): JobRecord => ({
  jobId: '1a2b3c4d-5e6f-4000-8000-000000000000',
  userId: 'user-views',
  tool: 'upscale-image',
  status,
  params: { scale: 2 },
  inputs: [],
  creditCost: 1,
  charged: true,
  refunded: false,
  error: null,
  outputs,
  createdAt: '2026-11-30T10:00:00.000Z',
  startedAt: null,
  completedAt: null,
  limits: { queueSeconds: 3600, runSeconds: 900 },
});

/** Only what a view reads: the position of a queued job, and presigned downloads named as the browser saves them. */
function views() {
  const positionsAsked: string[] = [];
  const queuePosition = async (job: JobRecord) => {
    positionsAsked.push(job.jobId);
    return 4;
  };
  const store = { queuePosition } as unknown as JobStore;
  const files = { presignDownload: async (key: string, name?: string) => `https://files.test/${key}?as=${name}` } as unknown as FileStore;
  return { ...jobViews(store, files), positionsAsked };
}

describe('the API view of a job', () => {
  it('reads the position of a queued job and of no other', async () => {
    const view = views();
    expect((await view.toJob(record('queued'))).position).toBe(4);
    expect((await view.toJob(record('running'))).position).toBeNull();
    expect((await view.toJob(record('succeeded'))).position).toBeNull();
    expect(view.positionsAsked).toHaveLength(1);
  });

  it('presigns each output under the name it is saved as, keeping its type and size', async () => {
    const job = await views().toJob(record('succeeded', [{ key: 'outputs/a/0', contentType: 'image/png', bytes: 12 }]));
    expect(job.outputs).toEqual([
      { url: 'https://files.test/outputs/a/0?as=ghostless-upscale-image-1a2b3c4d.png', contentType: 'image/png', bytes: 12 },
    ]);
  });
});

describe('download names', () => {
  const job = (outputs: number) => ({ tool: 'pose-changer', jobId: 'abcdef012345', outputs: Array.from({ length: outputs }) });

  it('names a single result after the tool and the first 8 characters of the job id', () => {
    expect(downloadName(job(1), 'image/jpeg', 0)).toBe('ghostless-pose-changer-abcdef01.jpg');
  });

  it('numbers the results of a job that has several, from 1', () => {
    expect(downloadName(job(2), 'video/mp4', 0)).toBe('ghostless-pose-changer-abcdef01-1.mp4');
    expect(downloadName(job(2), 'video/mp4', 1)).toBe('ghostless-pose-changer-abcdef01-2.mp4');
  });

  it('saves each media type with its usual extension', () => {
    const types = ['image/jpeg', 'image/png', 'image/webp', 'video/mp4', 'video/quicktime'];
    expect(types.map((type) => downloadName(job(1), type, 0).split('.').at(-1))).toEqual(['jpg', 'png', 'webp', 'mp4', 'mov']);
  });

  it('falls back to .bin for a type the catalog does not know', () => {
    expect(downloadName(job(1), 'application/x-unknown', 0)).toBe('ghostless-pose-changer-abcdef01.bin');
  });
});
