import type { JobRecord } from '../domain/jobs';
import type { StepFailure } from '../domain/lifecycle';
import { services } from '../runtime';
import { eventHandler } from './middleware';

type FinalizeEvent = { jobId: string; outputs: JobRecord['outputs'] } | { jobId: string; failure: StepFailure };

/** Finalize: every path of the state machine ends here, success or any Catch. */
export const handler = eventHandler(async (event: FinalizeEvent) => {
  if ('failure' in event) await services.lifecycle.fail(event.jobId, event.failure);
  else await services.lifecycle.succeed(event.jobId, event.outputs);
});
