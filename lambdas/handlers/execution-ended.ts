import type { EventBridgeEvent } from 'aws-lambda';
import { services } from '../runtime';
import { eventHandler } from './middleware';

type ExecutionStatusChange = EventBridgeEvent<'Step Functions Execution Status Change', { name: string; status: string }>;

/** EventBridge: an execution FAILED, TIMED_OUT or was ABORTED. The execution is named after its job. */
export const handler = eventHandler(async (event: ExecutionStatusChange) => {
  await services.healing.onExecutionEnded(event.detail.name);
});
