/** Named domain errors. The HTTP wrapper maps them to `{error, message, ...details}` in one place. */

export type JobErrorCode =
  | 'INSUFFICIENT_CREDITS'
  | 'USER_BUSY'
  | 'INVALID_INPUT'
  | 'PROVIDER_ERROR'
  | 'PROVIDER_TIMEOUT'
  | 'QUEUE_TIMEOUT'
  | 'CANCELLED_BY_USER'
  | 'HEALED'
  | 'INTERNAL';

export class DomainError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidRequest extends DomainError {
  constructor(message: string) {
    super('INVALID_REQUEST', 400, message);
  }
}

export class Unauthorized extends DomainError {
  constructor(message = 'A valid bearer token is required.') {
    super('UNAUTHORIZED', 401, message);
  }
}

export class InsufficientCredits extends DomainError {
  constructor(balance: number, cost: number) {
    super('INSUFFICIENT_CREDITS', 402, `This job costs ${cost} credits and your balance is ${balance}.`, {
      balance,
      cost,
    });
  }
}

export class NotFound extends DomainError {
  constructor(message = 'Not found.') {
    super('NOT_FOUND', 404, message);
  }
}

export class ActiveJob extends DomainError {
  constructor(activeJob: unknown) {
    super('ACTIVE_JOB', 409, 'You already have a job in progress; wait for it or cancel it first.', { activeJob });
  }
}

export class JobFinished extends DomainError {
  constructor() {
    super('JOB_FINISHED', 409, 'This job has already finished.');
  }
}

export class FileTooLarge extends DomainError {
  constructor(slot: string, limit: number) {
    super('FILE_TOO_LARGE', 413, `The file for "${slot}" is larger than the ${Math.round(limit / 1048576)} MB limit.`, {
      slot,
      limit,
    });
  }
}

export class UnsupportedMediaType extends DomainError {
  constructor(slot: string, contentType: string, accepted: readonly string[]) {
    super('UNSUPPORTED_MEDIA_TYPE', 415, `"${contentType}" is not accepted for "${slot}"; use ${accepted.join(', ')}.`, {
      slot,
      accepted,
    });
  }
}

/** The provider is at its concurrency limit (RunningHub 421/415): the state machine retries with backoff. */
export class ProviderBusy extends Error {
  override name = 'ProviderBusy';
}

/**
 * The provider answered create with a transient error (500, 808) on every try: no task exists, so the job can wait
 * at the head of the queue and try again rather than fail.
 */
export class ProviderUnavailable extends Error {
  override name = 'ProviderUnavailable';
}

/**
 * Create was sent and its last try got no answer (a timeout, a dropped connection): a task may exist that only its
 * webhook can name. The job keeps its secret and waits for that webhook, which adopts the task, or for its run timeout.
 */
export class ProviderOutcomeUnknown extends Error {
  override name = 'ProviderOutcomeUnknown';
}

/** The provider refused or failed the task: the job fails with PROVIDER_ERROR. */
export class ProviderFailed extends Error {
  override name = 'ProviderFailed';
}

/** Completing a resumable upload before every part is stored: the client sends the missing parts and asks again. */
export class PartsMissing extends DomainError {
  constructor(missing: number[]) {
    super('PARTS_MISSING', 409, `Parts ${missing.join(', ')} are not stored yet; send them and complete again.`, { missing });
  }
}

/** The stored parts are not the declared file: the upload has been aborted, nothing was created or charged. */
export class UploadSizeMismatch extends DomainError {
  constructor(reason: string) {
    super('SIZE_MISMATCH', 400, `${reason} The upload was cancelled; start it again.`);
  }
}

/** The multipart upload no longer exists (aborted, expired or already completed without a job). */
export class UploadGone extends DomainError {
  constructor() {
    super('UPLOAD_GONE', 409, 'This upload is no longer open (it expired or was cancelled); start it again.');
  }
}
