import { afterEach, describe, expect, it } from 'vitest';
import { isToolId, MEDIA_TYPES, OUTPUT_LIMITS, outputRule } from '../../lambdas/domain/catalog';
import {
  ActiveJob,
  FileTooLarge,
  InsufficientCredits,
  InvalidRequest,
  JobFinished,
  NotFound,
  PartsMissing,
  ProviderBusy,
  ProviderFailed,
  ProviderOutcomeUnknown,
  ProviderUnavailable,
  Unauthorized,
  UnsupportedMediaType,
  UploadGone,
  UploadSizeMismatch,
} from '../../lambdas/domain/errors';
import { arm, disarm, type FaultPoint, SimulatedCrash } from '../../lambdas/domain/faults';
import { admittedKey, inputKey, isJobId, isTerminal, outputKey, parseInputKey } from '../../lambdas/domain/jobs';
import { type DomainSystem, domainSystem } from '../support/domain-system';

const ID = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

describe('errors', () => {
  it('carries the code, status, sentence and details each API error promises', () => {
    const cases = [
      [new InvalidRequest('Bad.'), 'INVALID_REQUEST', 400, 'Bad.', {}],
      [new Unauthorized(), 'UNAUTHORIZED', 401, 'A valid bearer token is required.', {}],
      [
        new InsufficientCredits(1, 3),
        'INSUFFICIENT_CREDITS',
        402,
        'This job costs 3 credits and your balance is 1.',
        { balance: 1, cost: 3 },
      ],
      [new NotFound(), 'NOT_FOUND', 404, 'Not found.', {}],
      [
        new ActiveJob({ jobId: ID }),
        'ACTIVE_JOB',
        409,
        'You already have a job in progress; wait for it or cancel it first.',
        { activeJob: { jobId: ID } },
      ],
      [new JobFinished(), 'JOB_FINISHED', 409, 'This job has already finished.', {}],
      [
        new FileTooLarge('image', 20 * 1048576),
        'FILE_TOO_LARGE',
        413,
        'The file for "image" is larger than the 20 MB limit.',
        { slot: 'image', limit: 20 * 1048576 },
      ],
      [
        new UnsupportedMediaType('image', 'text/plain', ['image/png', 'image/jpeg']),
        'UNSUPPORTED_MEDIA_TYPE',
        415,
        '"text/plain" is not accepted for "image"; use image/png, image/jpeg.',
        { slot: 'image', accepted: ['image/png', 'image/jpeg'] },
      ],
      [new PartsMissing([2, 5]), 'PARTS_MISSING', 409, 'Parts 2, 5 are not stored yet; send them and complete again.', { missing: [2, 5] }],
      [new UploadSizeMismatch('Part 2 is short.'), 'SIZE_MISMATCH', 400, 'Part 2 is short. The upload was cancelled; start it again.', {}],
      [new UploadGone(), 'UPLOAD_GONE', 409, 'This upload is no longer open (it expired or was cancelled); start it again.', {}],
    ] as const;
    for (const [error, code, status, message, details] of cases) {
      expect({ name: error.name, code: error.code, status: error.status, message: error.message, details: error.details }).toEqual({
        name: error.constructor.name,
        code,
        status,
        message,
        details,
      });
    }
  });

  it('names the provider errors the state machine matches on', () => {
    const errors = [new ProviderBusy('x'), new ProviderUnavailable('x'), new ProviderOutcomeUnknown('x'), new ProviderFailed('x')];
    expect(errors.map((error) => error.name)).toEqual(['ProviderBusy', 'ProviderUnavailable', 'ProviderOutcomeUnknown', 'ProviderFailed']);
  });
});

describe('keys and ids', () => {
  it('accepts only the UUIDs admission issues as job ids', () => {
    expect(isJobId(ID)).toBe(true);
    for (const bad of [ID.toUpperCase(), `${ID}0`, `x${ID}`, ID.slice(1), ID.replaceAll('-', '_'), 42, null])
      expect(isJobId(bad)).toBe(false);
  });

  it('builds and parses the input, admitted and output keys', () => {
    expect(inputKey(ID, 'image')).toBe(`inputs/${ID}/image`);
    expect(admittedKey(ID, 'image', 'c')).toBe(`admitted/${ID}/image/c`);
    expect(outputKey(ID, 2)).toBe(`outputs/${ID}/2`);
    expect(parseInputKey(`inputs/${ID}/person`)).toEqual({ jobId: ID, slot: 'person' });
    for (const bad of [
      `inputs/${ID}/Person`,
      `inputs/${ID}/`,
      `x/inputs/${ID}/image`,
      `inputs/${ID}/image/x`,
      `inputs/${ID.slice(1)}/image`,
    ]) {
      expect(parseInputKey(bad)).toBeNull();
    }
  });

  it('knows which states are terminal', () => {
    expect(['queued', 'running', 'succeeded', 'failed', 'cancelled'].map((s) => isTerminal(s as never))).toEqual([
      false,
      false,
      true,
      true,
      true,
    ]);
  });
});

describe('catalog', () => {
  it('knows the four tools and nothing inherited', () => {
    expect(['upscale-image', 'upscale-video', 'pose-changer', 'try-on'].every(isToolId)).toBe(true);
    expect(['toString', 'constructor', '', 3].some(isToolId)).toBe(false);
  });

  it('accepts from the provider the output kind of each tool, up to its limit', () => {
    expect(outputRule('try-on')).toEqual({ types: MEDIA_TYPES.image, maxBytes: OUTPUT_LIMITS.image });
    expect(outputRule('pose-changer')).toEqual({ types: ['image/jpeg', 'image/png', 'image/webp'], maxBytes: OUTPUT_LIMITS.image });
    expect(outputRule('upscale-video')).toEqual({ types: ['video/mp4', 'video/quicktime'], maxBytes: 2048 * 1024 * 1024 });
    expect(OUTPUT_LIMITS.image).toBe(1024 * 1024 * 1024);
  });
});

/** Arms `point` to crash once, runs `act`, and answers what the crash left behind. */
async function crashAt(point: FaultPoint, act: () => Promise<unknown>) {
  arm(point, { action: 'crash' });
  await expect(act()).rejects.toEqual(new SimulatedCrash(point));
}

async function admitted(system: DomainSystem) {
  await system.store.seedUser('ana', 5);
  return (await system.submit('ana')).jobId;
}

describe('fault points in the domain', () => {
  afterEach(() => disarm());

  it('sits between the admission commit and the start of the execution', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 5);
    const before = await system.upload('ana');
    const after = await system.upload('ana');

    // Act
    await crashAt('admit:before-commit', () => system.admission.onInputStored(before.keys[0] as string));
    await crashAt('admit:after-commit', () => system.admission.onInputStored(after.keys[0] as string));

    // Assess
    expect(await system.store.getJob(before.jobId)).toBeNull();
    expect((await system.job(after.jobId)).status).toBe('queued');
    expect(system.workflow.started).toEqual([]);
  });

  it('sits between the grant commit and the wake-up', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await admitted(system);
    await system.store.recordToken(jobId, 'queued', 'wait');

    // Act
    await crashAt('grant:after-commit', () => system.queue.grantNext());

    // Assess
    expect((await system.job(jobId)).status).toBe('running');
    expect(system.workflow.resumed).toEqual([]);
  });

  it('sits between the finalize commit and the hand-off, and between a cancel and the stop of its execution', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    const jobId = await admitted(system);
    await system.queue.park(jobId, 'wait');
    await system.store.seedUser('bia', 5);
    const { jobId: next } = await system.submit('bia');

    // Act
    await crashAt('finalize:after-commit', () => system.lifecycle.succeed(jobId, []));
    await crashAt('cancel:after-finalize', () => system.lifecycle.cancel('bia', next));

    // Assess
    expect((await system.job(jobId)).status).toBe('succeeded');
    expect((await system.job(next)).status).toBe('cancelled');
    expect(system.outcomes).toEqual([{ status: 'cancelled', tool: 'upscale-image' }]);
    expect(system.workflow.stopped).toEqual([]);
  });

  it('sits between the creation of a task and its record', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await admitted(system);
    await system.queue.park(jobId, 'wait');

    // Act
    await crashAt('run:after-create', () => system.lifecycle.startRun(jobId, 'run'));

    // Assess
    expect(system.provider.tasks.size).toBe(1);
    expect((await system.job(jobId)).providerTaskId).toBeUndefined();
  });

  it('sits before the heal of an ended execution and at the start of a sweep', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await admitted(system);

    // Act
    await crashAt('execution-ended:before-heal', () => system.healing.onExecutionEnded(jobId));
    await crashAt('sweep:start', () => system.healing.sweep());

    // Assess
    expect((await system.job(jobId)).status).toBe('queued');
  });
});
