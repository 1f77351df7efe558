import type { Provider, ProviderInput, ProviderTaskRequest } from '../../lambdas/domain/ports';

/** A task request before staging: inputs as URLs, as lifecycle.startRun has them. */
export type TaskRequest = Omit<ProviderTaskRequest, 'files'> & { inputs: ProviderInput[] };

/** Stages the inputs, then creates the task: what lifecycle.startRun does with a provider. */
export async function start(provider: Provider, request: TaskRequest) {
  const { inputs, ...rest } = request;
  return provider.createTask({ ...rest, files: await provider.stageInputs(inputs) });
}
