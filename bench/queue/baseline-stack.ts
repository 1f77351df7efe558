import { startCountingProxy } from '../counting-proxy';
import { LATENCY_MS, MARKERS, type Scenario } from './options';
import { historyStats } from './results';
import { type SemaphoreJob, startSemaphore } from './semaphore-baseline';

/** The polling semaphore for one baseline scenario, behind a counting proxy, warmed up as Ghostless is. */
export async function startBaseline(scenario: Scenario, capacity: number) {
  const direct = process.env.BENCH_DYNAMODB_ENDPOINT as string;
  const proxy = await startCountingProxy(direct, MARKERS);
  const latency = scenario === 'baseline-throughput' ? 0 : LATENCY_MS;
  const semaphore = await startSemaphore({ dynamodbEndpoint: proxy.endpoint, directEndpoint: direct, limit: capacity, workMs: latency });
  const history = async (job: SemaphoreJob) => {
    await semaphore.done(job);
    return historyStats(semaphore.sfn.history(job.executionArn));
  };
  const stop = async () => {
    semaphore.close();
    await proxy.stop();
  };
  try {
    const warm = semaphore.start();
    await semaphore.done(warm);
    await proxy.reset();
  } catch (error) {
    await stop();
    throw error;
  }
  return { semaphore, proxy, history, stop };
}
