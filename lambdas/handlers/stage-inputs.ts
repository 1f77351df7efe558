import { services } from '../runtime';
import { eventHandler } from './middleware';

/** StageInputs: the next job in line puts its inputs at the provider while it waits, then parks again. */
export const handler = eventHandler(async ({ jobId }: { jobId: string }) => services.staging.stageAhead(jobId));
