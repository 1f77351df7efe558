import { services } from '../runtime';
import { eventHandler } from './middleware';

/** WaitForSlot (.waitForTaskToken): park the execution until the queue grants it a slot. */
export const handler = eventHandler(async ({ jobId, taskToken }: { jobId: string; taskToken: string }) => {
  await services.queue.park(jobId, taskToken);
});
