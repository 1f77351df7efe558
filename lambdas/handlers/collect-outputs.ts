import { services } from '../runtime';
import { eventHandler } from './middleware';

/** CollectOutputs: copy the provider's results into the bucket and pass their keys on. */
export const handler = eventHandler(async ({ jobId }: { jobId: string }) => services.lifecycle.collectOutputs(jobId));
