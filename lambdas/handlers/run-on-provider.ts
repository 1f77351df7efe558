import { services } from '../runtime';
import { eventHandler } from './middleware';

/** RunOnProvider (.waitForTaskToken): start the provider task; its webhook resumes the execution. */
export const handler = eventHandler(async ({ jobId, taskToken }: { jobId: string; taskToken: string }) => {
  await services.lifecycle.startRun(jobId, taskToken);
});
