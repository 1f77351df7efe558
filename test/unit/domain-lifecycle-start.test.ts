import { describe, expect, it } from 'vitest';
import { ProviderBusy, ProviderOutcomeUnknown, ProviderUnavailable } from '../../lambdas/domain/errors';
import { BUSY_HOLD_MS } from '../../lambdas/domain/queue';
import { type DomainSystem, domainSystem } from '../support/domain-system';

const QUEUE_MS = 600_000;

/** Ana's job, admitted at 00:00, parked and granted (running, no task yet); then `waitedMs` pass. */
async function granted(system: DomainSystem, waitedMs = 0) {
  await system.store.seedUser('ana', 5);
  const { jobId } = await system.submit('ana');
  await system.queue.park(jobId, `wait-${jobId}`);
  system.clock.advance(waitedMs);
  return jobId;
}

describe('a create whose answer was lost', () => {
  it('leaves the run parked for the task’s webhook, keeping the secret it was created with', async () => {
    // Prepare
    const system = domainSystem({ queueSeconds: QUEUE_MS / 1000 });
    const jobId = await granted(system);
    system.provider.createErrors.push(new ProviderOutcomeUnknown('timed out'));

    // Act
    await system.lifecycle.startRun(jobId, 'run-token');

    // Assess
    expect(system.workflow.failed).toEqual([]);
    expect(system.workflow.resumed.filter((r) => r.token === 'run-token')).toEqual([]);
    expect(await system.job(jobId)).toMatchObject({ status: 'running', runToken: 'run-token', callbackSecretHash: expect.any(String) });
    expect(system.logs).toContainEqual({
      message: 'create answer lost: waiting for the task to call back',
      fields: { jobId, error: 'timed out' },
    });
  });
});

describe('a create the provider refused for now', () => {
  it('sends the job back with what is left of its queue timeout, counted from admission, after the hold', async () => {
    // Prepare
    const system = domainSystem({ queueSeconds: QUEUE_MS / 1000 });
    const jobId = await granted(system, 100_000);
    system.provider.createErrors.push(new ProviderUnavailable('808'));

    // Act
    await system.lifecycle.startRun(jobId, 'run-token');

    // Assess
    const left = (QUEUE_MS - 100_000 - BUSY_HOLD_MS) / 1000;
    expect(system.workflow.failed).toEqual([
      { token: 'run-token', error: 'Requeued', cause: JSON.stringify({ queueTimeoutSeconds: left }) },
    ]);
    expect((await system.job(jobId)).status).toBe('queued');
  });

  it('sends the job back with one second left, and rounds a part of a second down', async () => {
    // Prepare
    const exact = domainSystem({ queueSeconds: QUEUE_MS / 1000 });
    const exactJob = await granted(exact, QUEUE_MS - BUSY_HOLD_MS - 1000);
    const rounded = domainSystem({ queueSeconds: QUEUE_MS / 1000 });
    const roundedJob = await granted(rounded, QUEUE_MS - BUSY_HOLD_MS - 2999);
    exact.provider.createErrors.push(new ProviderBusy('421'));
    rounded.provider.createErrors.push(new ProviderBusy('421'));

    // Act
    await exact.lifecycle.startRun(exactJob, 'run-token');
    await rounded.lifecycle.startRun(roundedJob, 'run-token');

    // Assess
    expect(exact.workflow.failed).toEqual([{ token: 'run-token', error: 'Requeued', cause: '{"queueTimeoutSeconds":1}' }]);
    expect(rounded.workflow.failed).toEqual([{ token: 'run-token', error: 'Requeued', cause: '{"queueTimeoutSeconds":2}' }]);
  });

  it('ends the run as a queue timeout when less than a second would be left, leaving the job to the state machine', async () => {
    // Prepare
    const system = domainSystem({ queueSeconds: QUEUE_MS / 1000 });
    const jobId = await granted(system, QUEUE_MS - BUSY_HOLD_MS - 999);
    system.provider.createErrors.push(new ProviderBusy('421 key full'));

    // Act
    await system.lifecycle.startRun(jobId, 'run-token');

    // Assess
    expect(system.workflow.failed).toEqual([
      { token: 'run-token', error: 'QueueTimeout', cause: '421 key full; the queue timeout has passed.' },
    ]);
    expect(await system.job(jobId)).toMatchObject({ status: 'running', slot: 1 });
    expect(await system.store.providerCapacity()).toBeNull();
  });
});

describe('failing and cancelling', () => {
  it('says a refused task is the provider’s error without giving a reason', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await granted(system);

    // Act
    await system.lifecycle.fail(jobId, { kind: 'provider-refused' });

    // Assess
    expect((await system.job(jobId)).error).toEqual({
      code: 'PROVIDER_ERROR',
      message: 'The AI provider could not process this job; your credits were refunded.',
    });
  });

  it('asks the provider to cancel nothing for a job that has no task', async () => {
    // Prepare
    const system = domainSystem({ capacity: 0 });
    await system.store.seedUser('ana', 5);
    const { jobId } = await system.submit('ana');

    // Act
    await system.lifecycle.cancel('ana', jobId);

    // Assess
    expect(system.provider.cancelled).toEqual([]);
    expect((await system.job(jobId)).providerCancelledAt).toBeUndefined();
  });
});
