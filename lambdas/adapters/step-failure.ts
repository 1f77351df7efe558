import type { JobFailure } from '../domain/lifecycle';

/** What a Catch in the state machine hands to Finalize: Step Functions' `{Error, Cause}`. */
export interface StepFailure {
  Error: string;
  /** A Lambda error's JSON (`{errorType, errorMessage, …}`), or any text. */
  Cause?: string;
}

/** Step Functions' error names, read as the domain's reasons for a failed job. */
export function jobFailureOf(failure: StepFailure): JobFailure {
  switch (failure.Error) {
    case 'States.Timeout':
      return { kind: 'timeout' };
    // Sent by RunOnProvider when the job's queue timeout passed while the provider refused it.
    case 'QueueTimeout':
      return { kind: 'queue-timeout' };
    case 'ProviderFailed':
      return { kind: 'provider-failed', reason: errorMessageOf(failure.Cause) };
    case 'ProviderBusy':
      return { kind: 'provider-refused' };
    default:
      return { kind: 'internal' };
  }
}

/** The Lambda error's message, when the Cause is one; nothing else is passed on. */
function errorMessageOf(cause: string | undefined): string | undefined {
  try {
    const message = JSON.parse(cause ?? '').errorMessage;
    return typeof message === 'string' && message ? message : undefined;
  } catch {
    return undefined;
  }
}
