import { describe, expect, it } from 'vitest';
import {
  ActiveJob,
  DomainError,
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

/** What the HTTP wrapper turns each domain error into: its class name, code, status, message and details. */
const shape = (error: DomainError) => ({
  name: error.name,
  code: error.code,
  status: error.status,
  message: error.message,
  details: error.details,
});

describe('domain errors', () => {
  it('carry the code, status and message the API answers with', () => {
    expect(
      [
        new InvalidRequest('bad'),
        new Unauthorized(),
        new NotFound(),
        new JobFinished(),
        new UploadGone(),
        new UploadSizeMismatch('Part 2 is short.'),
      ].map(shape),
    ).toEqual([
      { name: 'InvalidRequest', code: 'INVALID_REQUEST', status: 400, message: 'bad', details: {} },
      { name: 'Unauthorized', code: 'UNAUTHORIZED', status: 401, message: 'A valid bearer token is required.', details: {} },
      { name: 'NotFound', code: 'NOT_FOUND', status: 404, message: 'Not found.', details: {} },
      { name: 'JobFinished', code: 'JOB_FINISHED', status: 409, message: 'This job has already finished.', details: {} },
      {
        name: 'UploadGone',
        code: 'UPLOAD_GONE',
        status: 409,
        message: 'This upload is no longer open (it expired or was cancelled); start it again.',
        details: {},
      },
      {
        name: 'UploadSizeMismatch',
        code: 'SIZE_MISMATCH',
        status: 400,
        message: 'Part 2 is short. The upload was cancelled; start it again.',
        details: {},
      },
    ]);
  });

  it('name what the client needs to act on in their details', () => {
    expect(
      [
        new InsufficientCredits(1, 3),
        new ActiveJob({ jobId: 'j' }),
        new FileTooLarge('video', 500 * 1048576),
        new UnsupportedMediaType('image', 'image/gif', ['image/png', 'image/jpeg']),
        new PartsMissing([2, 5]),
      ].map(shape),
    ).toEqual([
      {
        name: 'InsufficientCredits',
        code: 'INSUFFICIENT_CREDITS',
        status: 402,
        message: 'This job costs 3 credits and your balance is 1.',
        details: { balance: 1, cost: 3 },
      },
      {
        name: 'ActiveJob',
        code: 'ACTIVE_JOB',
        status: 409,
        message: 'You already have a job in progress; wait for it or cancel it first.',
        details: { activeJob: { jobId: 'j' } },
      },
      {
        name: 'FileTooLarge',
        code: 'FILE_TOO_LARGE',
        status: 413,
        message: 'The file for "video" is larger than the 500 MB limit.',
        details: { slot: 'video', limit: 500 * 1048576 },
      },
      {
        name: 'UnsupportedMediaType',
        code: 'UNSUPPORTED_MEDIA_TYPE',
        status: 415,
        message: '"image/gif" is not accepted for "image"; use image/png, image/jpeg.',
        details: { slot: 'image', accepted: ['image/png', 'image/jpeg'] },
      },
      {
        name: 'PartsMissing',
        code: 'PARTS_MISSING',
        status: 409,
        message: 'Parts 2, 5 are not stored yet; send them and complete again.',
        details: { missing: [2, 5] },
      },
    ]);
  });

  it('name the provider errors as the state machine’s Retry and Catch match them', () => {
    const errors = [
      new ProviderBusy('421'),
      new ProviderUnavailable('808'),
      new ProviderOutcomeUnknown('timeout'),
      new ProviderFailed('no'),
    ];
    expect(errors.map((error) => [error.name, error.message])).toEqual([
      ['ProviderBusy', '421'],
      ['ProviderUnavailable', '808'],
      ['ProviderOutcomeUnknown', 'timeout'],
      ['ProviderFailed', 'no'],
    ]);
    expect(errors.some((error) => error instanceof DomainError)).toBe(false);
  });
});
