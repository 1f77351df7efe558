import { jobFailureOf, type StepFailure } from '../adapters/step-failure';
import type { JobRecord } from '../domain/jobs';
import { services } from '../runtime';
import { eventHandler } from './middleware';

type FinalizeEvent = { jobId: string; outputs: JobRecord['outputs'] } | { jobId: string; failure: StepFailure };

/** Finalize: every path of the state machine ends here, success or any Catch. */
export const handler = eventHandler(async (event: FinalizeEvent) => {
  if ('failure' in event) await services.lifecycle.fail(event.jobId, jobFailureOf(event.failure));
  else await services.lifecycle.succeed(event.jobId, event.outputs);
});
