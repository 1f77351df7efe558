/**
 * The domain wired to the in-memory ports, as lambdas/services.ts wires it to AWS: admission, queue,
 * lifecycle, healing, queries and credits over one MemoryStore. Ids are sequential UUIDs, so a test can
 * predict them; the clock moves only when the test moves it.
 */
import { crc32, deflateSync } from 'node:zlib';
import { admission } from '../../lambdas/domain/admission';
import { DEFAULT_LIMITS } from '../../lambdas/domain/catalog';
import { credits } from '../../lambdas/domain/credits';
import { healing } from '../../lambdas/domain/healing';
import { inputKey, type JobRecord } from '../../lambdas/domain/jobs';
import { lifecycle } from '../../lambdas/domain/lifecycle';
import { liveUpdates } from '../../lambdas/domain/live-updates';
import { queries } from '../../lambdas/domain/queries';
import { jobQueue } from '../../lambdas/domain/queue';
import { resumableUploads } from '../../lambdas/domain/resumable-upload';
import { inputStaging } from '../../lambdas/domain/staging';
import { jobViews } from '../../lambdas/domain/views';
import { MemoryLiveChannel, MemoryMultipart } from './memory-edge-ports';
import { ManualClock, MemoryFiles, MemoryProvider, MemoryStore, MemoryWorkflow } from './memory-ports';

export interface SystemOptions {
  capacity?: number;
  graceMs?: number;
  signupCredits?: number;
  queueSeconds?: number;
  runSeconds?: number;
  callbackBaseUrl?: string | undefined;
  /** Receives each hand-off latency the queue measures (a metric in AWS). */
  recordHandoff?: (ms: number) => void;
  /** DescribeExecution calls per sweep (the domain's default when absent). */
  describeBudget?: number;
  /** Files above this many bytes go up in parts of `partBytes` (absent: every file is one POST). */
  multipart?: { thresholdBytes: number; partBytes: number };
  /** The queue wakes the next job in line to stage its inputs (as lambdas/services.ts wires it); off by default. */
  stageAhead?: boolean;
}

/**
 * A PNG header for `width` × `height` pixels: signature, IHDR, a token IDAT, IEND. Admission reads only the magic bytes
 * and the IHDR, so the pixel data stays a few bytes whatever the size.
 */
export function png(width = 8, height = 6) {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = 2;
  const pixels = deflateSync(Buffer.alloc(1 + Math.min(width, 8) * 3));
  const file = [
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', header),
    chunk('IDAT', pixels),
    chunk('IEND', Buffer.alloc(0)),
  ];
  return new Uint8Array(Buffer.concat(file));
}

export function domainSystem(options: SystemOptions = {}) {
  const { capacity = 3, graceMs = 120_000, signupCredits = 3, queueSeconds = 600, runSeconds = 300 } = options;
  const callbackBaseUrl = 'callbackBaseUrl' in options ? options.callbackBaseUrl : 'https://ghostless.test';
  const clock = new ManualClock();
  const store = new MemoryStore(() => clock.now());
  const files = new MemoryFiles(clock);
  const workflow = new MemoryWorkflow();
  const provider = new MemoryProvider();
  const logs: { message: string; fields: Record<string, unknown> }[] = [];
  const log = (message: string, fields: Record<string, unknown>) => void logs.push({ message, fields });
  const outcomes: { status: string; tool: string }[] = [];
  let ids = 0;
  const newId = () => `00000000-0000-4000-8000-${String(++ids).padStart(12, '0')}`;

  const views = jobViews(store, files);
  const channel = new MemoryLiveChannel();
  const live = liveUpdates({ channel, views, log });
  const multipart = new MemoryMultipart();
  const resumable = resumableUploads({
    store,
    multipart,
    policy: options.multipart ?? { thresholdBytes: Number.POSITIVE_INFINITY, partBytes: 5 * 1024 * 1024 },
    presignSeconds: 3600,
    log,
  });
  const creditService = credits(store, signupCredits);
  const queue = jobQueue({
    store,
    workflow,
    clock,
    capacity,
    log,
    live,
    stageAhead: options.stageAhead ?? false,
    ...(options.recordHandoff ? { recordHandoff: options.recordHandoff } : {}),
  });
  const jobLifecycle = lifecycle({
    store,
    files,
    provider,
    workflow,
    queue,
    clock,
    callbackBaseUrl,
    log,
    live,
    countOutcome: (status, tool) => void outcomes.push({ status, tool }),
  });
  const jobAdmission = admission({
    store,
    ledger: store,
    credits: creditService,
    files,
    views,
    clock,
    workflow,
    sizeLimits: DEFAULT_LIMITS,
    jobLimits: { queueSeconds, runSeconds },
    uploadTtlSeconds: 900,
    resumable,
    newId,
    log,
    live,
  });
  const healer = healing({
    store,
    workflow,
    provider,
    lifecycle: jobLifecycle,
    queue,
    admission: jobAdmission,
    files,
    clock,
    graceMs,
    ...(options.describeBudget === undefined ? {} : { describeBudget: options.describeBudget }),
    log,
  });

  /** Requests an upload for `userId` and stores a valid PNG in every slot, without delivering the S3 events. */
  async function upload(userId: string, request: { tool?: string; params?: object; slots?: string[] } = {}) {
    const bytes = png();
    const { tool = 'upscale-image', params = {}, slots = ['image'] } = request;
    const body = { tool, params, files: slots.map((slot) => ({ slot, contentType: 'image/png', size: bytes.length })) };
    const { jobId } = await jobAdmission.requestUpload(userId, body);
    for (const slot of slots) files.put(inputKey(jobId, slot), bytes);
    return { jobId, keys: slots.map((slot) => inputKey(jobId, slot)) };
  }

  /** Uploads and delivers every S3 event: the job is admitted (or rejected). */
  async function submit(userId: string, request: Parameters<typeof upload>[1] = {}) {
    const uploaded = await upload(userId, request);
    let outcome = '';
    for (const key of uploaded.keys) outcome = await jobAdmission.onInputStored(key);
    return { ...uploaded, outcome };
  }

  /** A granted job's RunOnProvider: starts its task; answers the task id. */
  async function run(jobId: string, token = `run-${jobId}`) {
    await jobLifecycle.startRun(jobId, token);
    return (await job(jobId)).providerTaskId as string;
  }

  async function job(jobId: string): Promise<JobRecord> {
    const found = await store.getJob(jobId);
    if (!found) throw new Error(`no job ${jobId}`);
    return found;
  }

  return {
    clock,
    store,
    files,
    workflow,
    provider,
    channel,
    multipart,
    resumable,
    logs,
    outcomes,
    newId,
    views,
    credits: creditService,
    queue,
    lifecycle: jobLifecycle,
    staging: inputStaging({ store, files, provider, clock, log }),
    admission: jobAdmission,
    healing: healer,
    queries: queries(store, store, views, creditService),
    upload,
    submit,
    run,
    job,
  };
}

export type DomainSystem = ReturnType<typeof domainSystem>;
