import { describe, expect, it } from 'vitest';
import type { PostUpload } from '../../lambdas/domain/admission';
import { DomainError } from '../../lambdas/domain/errors';
import { newUser, submit, testStack, upload } from '../support/emulator-stack';
import { assertInvariants, snapshot } from '../support/invariants';
import { image, textFile, video } from '../support/media';

const stack = await testStack();
const { admission, queries, credits } = stack.services;

async function userWith(balance: number) {
  const userId = newUser();
  await credits.setBalance(userId, balance);
  return userId;
}

async function rejection(promise: Promise<unknown>) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  const { status, code, details } = error as DomainError;
  return { status, code, details };
}

describe('presigning uploads', () => {
  it('returns one presigned POST per slot and creates no job', async () => {
    const userId = await userWith(10);
    const png = await image('png');
    const res = await admission.requestUpload(userId, {
      tool: 'try-on',
      params: { category: 'top' },
      files: [
        { slot: 'person', contentType: 'image/png', size: png.length },
        { slot: 'garment', contentType: 'image/png', size: png.length },
      ],
    });
    expect(res.uploads.map((u) => u.slot).sort()).toEqual(['garment', 'person']);
    for (const u of res.uploads as PostUpload[]) {
      expect(u.fields.key).toBe(`inputs/${res.jobId}/${u.slot}`);
      const policy = JSON.parse(Buffer.from(u.fields.Policy as string, 'base64').toString('utf8'));
      expect(policy.conditions).toEqual(
        expect.arrayContaining([
          ['content-length-range', png.length, png.length],
          ['eq', '$Content-Type', 'image/png'],
          { key: u.fields.key },
        ]),
      );
    }
    expect(Date.parse(res.expiresAt) - Date.now()).toBeGreaterThan(14 * 60_000);
    expect((await rejection(queries.getJob(userId, res.jobId))).status).toBe(404);
    expect(await credits.balance(userId)).toBe(10);
  });

  it.each([
    ['a body that is not an object', 'nope', 400, 'INVALID_REQUEST'],
    ['an unknown tool', { tool: 'paint', files: [] }, 400, 'INVALID_REQUEST'],
    [
      'an unknown param',
      { tool: 'upscale-image', params: { color: 'red' }, files: [{ slot: 'image', contentType: 'image/png', size: 10 }] },
      400,
      'INVALID_REQUEST',
    ],
    [
      'a scale that is not offered',
      { tool: 'upscale-image', params: { scale: 3 }, files: [{ slot: 'image', contentType: 'image/png', size: 10 }] },
      400,
      'INVALID_REQUEST',
    ],
    [
      'try-on without a category',
      {
        tool: 'try-on',
        files: [
          { slot: 'person', contentType: 'image/png', size: 10 },
          { slot: 'garment', contentType: 'image/png', size: 10 },
        ],
      },
      400,
      'INVALID_REQUEST',
    ],
    ['a wrong slot', { tool: 'upscale-image', files: [{ slot: 'video', contentType: 'image/png', size: 10 }] }, 400, 'INVALID_REQUEST'],
    ['a missing slot', { tool: 'pose-changer', files: [{ slot: 'person', contentType: 'image/png', size: 10 }] }, 400, 'INVALID_REQUEST'],
    [
      'a slot given twice',
      {
        tool: 'upscale-image',
        files: [
          { slot: 'image', contentType: 'image/png', size: 10 },
          { slot: 'image', contentType: 'image/png', size: 10 },
        ],
      },
      400,
      'INVALID_REQUEST',
    ],
    ['a negative size', { tool: 'upscale-image', files: [{ slot: 'image', contentType: 'image/png', size: -5 }] }, 400, 'INVALID_REQUEST'],
    [
      'a fractional size',
      { tool: 'upscale-image', files: [{ slot: 'image', contentType: 'image/png', size: 1.5 }] },
      400,
      'INVALID_REQUEST',
    ],
    [
      'an image over 20 MB',
      { tool: 'upscale-image', files: [{ slot: 'image', contentType: 'image/png', size: 20 * 1024 * 1024 + 1 }] },
      413,
      'FILE_TOO_LARGE',
    ],
    [
      'a video over 500 MB',
      { tool: 'upscale-video', files: [{ slot: 'video', contentType: 'video/mp4', size: 500 * 1024 * 1024 + 1 }] },
      413,
      'FILE_TOO_LARGE',
    ],
    [
      'a text file',
      { tool: 'upscale-image', files: [{ slot: 'image', contentType: 'text/plain', size: 10 }] },
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
    [
      'a video in an image slot',
      { tool: 'upscale-image', files: [{ slot: 'image', contentType: 'video/mp4', size: 10 }] },
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    ],
  ])('refuses %s with a clear error and changes nothing', async (_name, body, status, code) => {
    const userId = await userWith(10);
    expect(await rejection(admission.requestUpload(userId, body))).toMatchObject({ status, code });
    expect(await credits.balance(userId)).toBe(10);
    expect(await queries.listJobs(userId, {})).toEqual({ jobs: [], nextCursor: null });
  });

  it('refuses with 402 and the balance and price when credits are short', async () => {
    const userId = await userWith(1);
    const body = { tool: 'upscale-image', params: { scale: 4 }, files: [{ slot: 'image', contentType: 'image/png', size: 100 }] };
    expect(await rejection(admission.requestUpload(userId, body))).toMatchObject({ status: 402, details: { balance: 1, cost: 2 } });
    expect(await rejection(admission.requestUpload(await userWith(0), body))).toMatchObject({
      status: 402,
      details: { balance: 0, cost: 2 },
    });
  });

  it('refuses with 409 and shows the active job when the user already has one', async () => {
    const userId = await userWith(10);
    const png = await image();
    const { jobId } = await submit(stack, userId, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: png }]);
    const error = await rejection(
      admission.requestUpload(userId, {
        tool: 'pose-changer',
        files: [
          { slot: 'person', contentType: 'image/png', size: 9 },
          { slot: 'pose', contentType: 'image/png', size: 9 },
        ],
      }),
    );
    expect(error).toMatchObject({
      status: 409,
      code: 'ACTIVE_JOB',
      details: { activeJob: { jobId, status: 'queued', tool: 'upscale-image' } },
    });
  });
});

describe('creating the job from S3 events', () => {
  it('creates a queued, charged job holding the user lock once the input is stored', async () => {
    const userId = await userWith(5);
    const png = await image('png');
    const { jobId, outcomes } = await submit(stack, userId, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: png }], {
      scale: 4,
    });
    expect(outcomes).toEqual(['admitted']);
    const job = await queries.getJob(userId, jobId);
    expect(job).toMatchObject({
      jobId,
      tool: 'upscale-image',
      status: 'queued',
      params: { scale: 4 },
      creditCost: 2,
      refunded: false,
      error: null,
      outputs: [],
    });
    expect(job.position).toBeGreaterThanOrEqual(1);
    expect(await credits.balance(userId)).toBe(3);
    expect(await queries.activeJob(userId)).toMatchObject({ jobId });
    expect(stack.started).toContain(jobId);
    await assertInvariants(stack);
  });

  it('waits for every input of a two-input tool, in whatever order the events come', async () => {
    const userId = await userWith(5);
    const png = await image('png');
    const jpeg = await image('jpeg');
    const { jobId, keys } = await upload(stack, userId, 'pose-changer', [
      { slot: 'person', contentType: 'image/png', body: png },
      { slot: 'pose', contentType: 'image/jpeg', body: jpeg },
    ]);
    const [first, second] = keys.reverse() as [string, string];
    expect(await admission.onInputStored(first)).toBe('waiting');
    expect((await rejection(queries.getJob(userId, jobId))).status).toBe(404);
    expect(stack.started).not.toContain(jobId);
    expect(await admission.onInputStored(second)).toBe('admitted');
    expect(stack.started).toContain(jobId);
    expect(await queries.getJob(userId, jobId)).toMatchObject({ status: 'queued', creditCost: 2 });
  });

  it('ignores duplicate events: one job, one debit', async () => {
    const userId = await userWith(5);
    const { jobId, keys } = await upload(stack, userId, 'upscale-image', [
      { slot: 'image', contentType: 'image/webp', body: await image('webp') },
    ]);
    const key = keys[0] as string;
    const outcomes = await Promise.all([1, 2, 3, 4].map(() => admission.onInputStored(key)));
    expect(outcomes.filter((o) => o === 'admitted')).toHaveLength(1);
    expect(await admission.onInputStored(key)).toBe('duplicate');
    expect(await credits.balance(userId)).toBe(4);
    const { jobs } = await queries.listJobs(userId, {});
    expect(jobs.map((j) => j.jobId)).toEqual([jobId]);
    await assertInvariants(stack);
  });

  it('admits exactly once when both inputs of a job land at the same moment', async () => {
    const userId = await userWith(5);
    const png = await image();
    const { keys } = await upload(
      stack,
      userId,
      'try-on',
      [
        { slot: 'person', contentType: 'image/png', body: png },
        { slot: 'garment', contentType: 'image/png', body: png },
      ],
      { category: 'full' },
    );
    const outcomes = await Promise.all([...keys, ...keys].map((k) => admission.onInputStored(k)));
    expect(outcomes.filter((o) => o === 'admitted')).toHaveLength(1);
    expect(await credits.balance(userId)).toBe(2);
    await assertInvariants(stack);
  });

  it('fails a text file named .png as INVALID_INPUT without charging or blocking the user', async () => {
    const userId = await userWith(5);
    const { jobId, outcomes } = await submit(stack, userId, 'upscale-image', [
      { slot: 'image', contentType: 'image/png', body: textFile() },
    ]);
    expect(outcomes).toEqual(['rejected']);
    const job = await queries.getJob(userId, jobId);
    expect(job).toMatchObject({ status: 'failed', error: { code: 'INVALID_INPUT' }, refunded: false, position: null });
    expect(job.completedAt).not.toBeNull();
    expect(await credits.balance(userId)).toBe(5);
    expect(await queries.activeJob(userId)).toBeNull();
    const again = await submit(stack, userId, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: await image() }]);
    expect(again.outcomes).toEqual(['admitted']);
    await assertInvariants(stack);
  });

  it('fails an input whose bytes are another type than declared', async () => {
    const userId = await userWith(5);
    const { jobId } = await submit(stack, userId, 'upscale-image', [
      { slot: 'image', contentType: 'image/png', body: await image('jpeg') },
    ]);
    expect(await queries.getJob(userId, jobId)).toMatchObject({
      status: 'failed',
      error: { code: 'INVALID_INPUT', message: expect.stringContaining('image/jpeg') },
    });
  });

  it('fails an input whose stored size differs from the declared one', async () => {
    const userId = await userWith(5);
    const png = await image();
    // The local S3 server accepts any size; real S3 would refuse it, and the handler checks anyway.
    const { jobId } = await submit(stack, userId, 'upscale-image', [
      { slot: 'image', contentType: 'image/png', body: png, size: png.length + 7 },
    ]);
    expect(await queries.getJob(userId, jobId)).toMatchObject({ status: 'failed', error: { code: 'INVALID_INPUT' } });
    expect(await credits.balance(userId)).toBe(5);
  });

  it('accepts a video by its bytes', async () => {
    const userId = await userWith(5);
    const { outcomes } = await submit(stack, userId, 'upscale-video', [{ slot: 'video', contentType: 'video/mp4', body: await video() }]);
    expect(outcomes).toEqual(['admitted']);
    expect(await credits.balance(userId)).toBe(0);
  });

  it('creates the job failed with INSUFFICIENT_CREDITS when the balance dropped during the upload', async () => {
    const userId = await userWith(3);
    const { jobId, keys } = await upload(
      stack,
      userId,
      'try-on',
      [
        { slot: 'person', contentType: 'image/png', body: await image() },
        { slot: 'garment', contentType: 'image/png', body: await image() },
      ],
      { category: 'top' },
    );
    await credits.setBalance(userId, 2);
    for (const key of keys) await admission.onInputStored(key);
    expect(await queries.getJob(userId, jobId)).toMatchObject({
      status: 'failed',
      error: { code: 'INSUFFICIENT_CREDITS' },
      refunded: false,
    });
    expect(await credits.balance(userId)).toBe(2);
    expect(await queries.activeJob(userId)).toBeNull();
    await assertInvariants(stack);
  });

  it('lets exactly one of two uploads finishing at once become the active job; the other fails USER_BUSY', async () => {
    const userId = await userWith(10);
    const png = await image();
    const a = await upload(stack, userId, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: png }]);
    const b = await upload(stack, userId, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: png }]);
    const outcomes = await Promise.all([a.keys[0], b.keys[0]].map((k) => admission.onInputStored(k as string)));
    expect(outcomes.sort()).toEqual(['admitted', 'rejected']);
    const jobs = await Promise.all([a.jobId, b.jobId].map((id) => queries.getJob(userId, id)));
    expect(jobs.map((j) => j.status).sort()).toEqual(['failed', 'queued']);
    expect(jobs.find((j) => j.status === 'failed')?.error?.code).toBe('USER_BUSY');
    expect(await credits.balance(userId)).toBe(9);
    await assertInvariants(stack);
  });

  it('ignores objects that no upload was issued for', async () => {
    const before = await snapshot(stack);
    expect(await admission.onInputStored('inputs/not-a-job/image')).toBe('ignored');
    expect(await admission.onInputStored(`inputs/${crypto.randomUUID()}/image`)).toBe('ignored');
    expect(await admission.onInputStored('elsewhere/file.png')).toBe('ignored');
    expect((await snapshot(stack)).jobs.length).toBe(before.jobs.length);
  });

  it('keeps every invariant when fifty users upload at once with duplicated events', async () => {
    const users = await Promise.all(Array.from({ length: 50 }, () => userWith(3)));
    const png = await image();
    const uploads = await Promise.all(
      users.map((u) => upload(stack, u, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: png }])),
    );
    const keys = uploads.flatMap((u) => [u.keys[0], u.keys[0]]) as string[];
    await Promise.all(keys.sort(() => Math.random() - 0.5).map((k) => admission.onInputStored(k)));
    for (const userId of users) expect(await credits.balance(userId)).toBe(2);
    const { jobs } = await assertInvariants(stack);
    const mine = jobs.filter((j) => users.includes(j.userId));
    expect(mine).toHaveLength(50);
    expect(mine.every((j) => j.status === 'queued')).toBe(true);
  });
});

describe('reading jobs', () => {
  it('lists a user’s jobs newest first, page by page', async () => {
    const userId = await userWith(1);
    const ids: string[] = [];
    // Invalid inputs fail uncharged, so the user stays free to submit the next one.
    for (let i = 0; i < 5; i++) {
      ids.push(
        (await submit(stack, userId, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: textFile(`#${i}`) }])).jobId,
      );
    }
    const first = await queries.listJobs(userId, { limit: '2' });
    const second = await queries.listJobs(userId, { limit: '2', cursor: first.nextCursor as string });
    const third = await queries.listJobs(userId, { limit: '2', cursor: second.nextCursor as string });
    const seen = [...first.jobs, ...second.jobs, ...third.jobs].map((j) => j.jobId);
    expect(seen).toEqual([...ids].reverse());
    expect(third.jobs).toHaveLength(1);
  });

  it('refuses a bad limit or a forged cursor with 400', async () => {
    const userId = newUser();
    expect((await rejection(queries.listJobs(userId, { limit: '0' }))).status).toBe(400);
    expect((await rejection(queries.listJobs(userId, { limit: 'ten' }))).status).toBe(400);
    expect((await rejection(queries.listJobs(userId, { cursor: 'garbage' }))).status).toBe(400);
    const foreign = Buffer.from(JSON.stringify({ pk: 'JOB#x', sk: 'JOB', gsi1pk: 'USER#someone-else', gsi1sk: 'x' })).toString('base64url');
    expect((await rejection(queries.listJobs(userId, { cursor: foreign }))).status).toBe(400);
  });

  it('answers 404 for another user’s job', async () => {
    const owner = await userWith(5);
    const { jobId } = await submit(stack, owner, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: await image() }]);
    expect((await rejection(queries.getJob(newUser(), jobId))).code).toBe('NOT_FOUND');
    expect(await queries.getJob(owner, jobId)).toMatchObject({ jobId });
  });

  it('gives exact FIFO positions to queued jobs', async () => {
    const own = await testStack();
    const users = await Promise.all(
      [1, 2, 3, 4].map(async () => {
        const u = newUser();
        await own.services.credits.setBalance(u, 5);
        return u;
      }),
    );
    const jobIds = [];
    for (const u of users)
      jobIds.push((await submit(own, u, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: await image() }])).jobId);
    const positions = await Promise.all(jobIds.map((id, i) => own.services.queries.getJob(users[i] as string, id)));
    expect(positions.map((j) => j.position)).toEqual([1, 2, 3, 4]);
  });
});
