import { afterAll, describe, expect, it } from 'vitest';
import { arm, firings } from '../../lambdas/domain/faults';
import { audit } from '../../scripts/audit-report';
import {
  deliverS3Event,
  HEAL_SLACK_MS,
  type Lab,
  newUser,
  presign,
  readJob,
  startLab,
  until,
  uploadSlot,
  waitJob,
} from '../support/fault-lab';
import { assertInvariants, snapshot } from '../support/invariants';

/**
 * An upload whose S3 event is lost: the s3-event function crashes on every attempt (1 + 2 async retries), the
 * event goes to the on-failure queue, and the sweeper (every 500 ms, grace 1500 ms) re-drives the admission.
 */
const lab: Lab = await startLab({});
afterAll(() => lab.stop());

const s3EventFunction = () => lab.stack.lambda.spec(lab.stack.functionName('s3-event'));
const loseEventsOf = (jobId: string) =>
  arm('s3-event:received', {
    action: 'crash',
    times: Number.POSITIVE_INFINITY,
    subject: (key) => key?.startsWith(`inputs/${jobId}/`) ?? false,
  });
const crashesFor = (jobId: string) => firings('s3-event:received').filter((f) => f.subject?.startsWith(`inputs/${jobId}/`));

describe('a lost S3 event', () => {
  it('goes to the encrypted on-failure queue after Lambda’s retries, and the sweeper creates the job within the heal bound', async () => {
    const user = await newUser(lab, 'lost', 10);
    const presigned = await presign(lab, user, 'pose-changer');
    const restore = loseEventsOf(presigned.jobId);
    try {
      for (const upload of presigned.uploads) await uploadSlot(presigned, upload.slot);
      const uploadedAt = Date.now();

      // Every attempt of both events failed: each event reached the on-failure destination the template names.
      const queueArn = s3EventFunction().async.onFailure as string;
      expect(queueArn).toMatch(/^arn:aws:sqs:us-east-1:000000000000:/);
      const failed = await until('both events in the on-failure queue', async () => {
        const mine = (lab.stack.destinations.get(queueArn) ?? []).filter((f) => JSON.stringify(f.event).includes(presigned.jobId));
        return mine.length === 2 ? mine : null;
      });
      expect(failed.map((f) => f.attempts)).toEqual([3, 3]);
      expect(crashesFor(presigned.jobId)).toHaveLength(6);

      const job = await waitJob(lab, presigned.jobId, () => true, 15_000);
      const createdAfterMs = Date.parse(job.createdAt) - uploadedAt;
      console.log(`lost admission: job created ${createdAfterMs} ms after the upload (bound ${lab.boundMs + HEAL_SLACK_MS} ms)`);
      // The sweeper waits out the grace from the upload, then runs within one interval.
      expect(createdAfterMs).toBeLessThanOrEqual(lab.graceMs + lab.sweepMs + HEAL_SLACK_MS);
      // No event ever reached admission: the sweeper did, with the same code (inputs copied, inspected, charged once).
      expect(job.inputs.map((i) => i.slot).sort()).toEqual(['person', 'pose']);
      expect(job.charged).toBe(true);
      expect((await waitJob(lab, presigned.jobId)).status).toBe('succeeded');
    } finally {
      restore();
    }

    // A late redelivery of the event (after all) changes nothing: still one job, one debit.
    for (const upload of presigned.uploads) await deliverS3Event(lab, upload.fields.key as string);
    const { ledger } = await assertInvariants(lab.stack);
    expect(ledger.filter((e) => e.jobId === presigned.jobId).map((e) => e.reason)).toEqual(['debit']);
  }, 60_000);

  it('creates no job while an input is still missing', async () => {
    const user = await newUser(lab, 'half', 10);
    const presigned = await presign(lab, user, 'pose-changer');
    const restore = loseEventsOf(presigned.jobId);
    try {
      await uploadSlot(presigned, 'person');
      await until('the event to be lost', async () => crashesFor(presigned.jobId).length >= 3);
      // Several sweeps past the grace.
      await new Promise((resolve) => setTimeout(resolve, lab.graceMs + 3 * lab.sweepMs));
      expect(await readJob(lab, presigned.jobId)).toBeNull();
      const { users } = await snapshot(lab.stack);
      expect(users.find((u) => u.pk === `USER#${user.userId}`)?.balance).toBe(10);
    } finally {
      restore();
    }
    // The last input arrives and its event goes through; the first one's event stays lost: the sweeper re-drives it.
    await uploadSlot(presigned, 'pose');
    expect((await waitJob(lab, presigned.jobId)).status).toBe('succeeded');
    await assertInvariants(lab.stack);
  }, 60_000);

  it('is what the audit reports as lost_admission when admission died after recording every input, and the sweeper heals it', async () => {
    const user = await newUser(lab, 'died', 10);
    const presigned = await presign(lab, user, 'upscale-image');
    const { jobId } = presigned;
    // Sweeps paused while the event is lost, so the audit sees the straggler before the sweeper does.
    const pause = arm('sweep:start', { action: 'crash', times: Number.POSITIVE_INFINITY });
    arm('admit:before-commit', { action: 'crash', subject: jobId, times: 3 });
    try {
      await uploadSlot(presigned, 'image');
      await until('the event to be lost', async () => firings('admit:before-commit').filter((f) => f.subject === jobId).length === 3);
      await until('the on-failure queue', async () =>
        [...lab.stack.destinations.values()].flat().some((f) => JSON.stringify(f.event).includes(jobId)),
      );
      const report = await audit({ doc: lab.stack.doc, tableName: lab.stack.tableName, graceMs: lab.graceMs, capacity: lab.maxRunning });
      expect(report.stragglers.filter((s) => s.jobId === jobId)).toEqual([
        expect.objectContaining({ kind: 'lost_admission', sweeper: 'yes', userId: user.userId }),
      ]);
      expect(await readJob(lab, jobId)).toBeNull();
    } finally {
      pause();
    }
    const resumed = Date.now();
    const job = await waitJob(lab, jobId, () => true, 15_000);
    const healMs = Date.parse(job.createdAt) - resumed;
    console.log(`lost admission (recorded, not admitted): job created ${healMs} ms after sweeps resumed`);
    expect(healMs).toBeLessThanOrEqual(lab.sweepMs + HEAL_SLACK_MS);
    expect((await waitJob(lab, jobId)).status).toBe('succeeded');
    const after = await audit({ doc: lab.stack.doc, tableName: lab.stack.tableName, graceMs: lab.graceMs, capacity: lab.maxRunning });
    expect(after.stragglers.filter((s) => s.jobId === jobId)).toEqual([]);
    await assertInvariants(lab.stack);
  }, 60_000);
});
