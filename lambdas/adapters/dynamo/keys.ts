import type { JobRecord } from '../../domain/jobs';
import { TABLE_SCHEMA } from '../table-schema';

/**
 * Single-table layout:
 *   USER#<id>  / PROFILE     balance, granted, debited, refunded, ledgerSeq, signedUp, activeJobId (the one-active-job lock)
 *   USER#<id>  / LEDGER#<n>  one entry per balance change (n = ledgerSeq after it, zero-padded: newest sorts last),
 *                            written in the same transaction as the change
 *   USER#<id>  / PUSH#<hash> one Web Push subscription per device (hash of its endpoint), with the user's language (TTL)
 *   JOB#<id>   / INTENT      what POST /uploads promised, plus the inputs stored so far (TTL); in the `live`
 *                            index (partition INTENT) until its job exists, so the sweeper finds lost admissions
 *   JOB#<id>   / JOB         the job; gsi1 = (USER#<id>, createdAt#jobId) lists a user's jobs
 *   QUEUE      / <queueKey>  one entry per waiting job, sorted FIFO
 *   QUEUE#MINUTE          / <YYYY-MM-DDTHH:MM>  { n }: waiting jobs admitted in that minute  ┐ the position index,
 *   QUEUE#SECOND#<minute> / <SS>                { n }: waiting jobs admitted in that second  │ written in the same
 *   QUEUE#AT#<second>     / <queueKey>          one entry per waiting job admitted then      ┘ transactions as QUEUE
 *   SLOT       / <nnn>       one item per held slot: { jobId }
 *   PROVIDER   / CAPACITY    what the provider key can run for Ghostless after a 421/415: { limit, until }
 */

/** The table's two indexes, named as the table defines them. */
export const { byUserIndex: BY_USER, liveIndex: LIVE } = TABLE_SCHEMA;

const USER = 'USER#';
export const userPartition = (userId: string) => `${USER}${userId}`;
export const userIdOf = (pk: string) => pk.slice(USER.length);
export const userKey = (userId: string) => ({ pk: userPartition(userId), sk: 'PROFILE' });
export const intentKey = (jobId: string) => ({ pk: `JOB#${jobId}`, sk: 'INTENT' });
export const jobKey = (jobId: string) => ({ pk: `JOB#${jobId}`, sk: 'JOB' });
export const QUEUE = 'QUEUE';
export const SLOT = 'SLOT';
/** Partitions of the sparse `live` index: non-terminal jobs, users holding the lock, uploads awaiting their job. */
export const LIVE_JOB = 'JOB';
export const LIVE_LOCK = 'LOCK';
export const LIVE_INTENT = 'INTENT';
export const CAPACITY_KEY = { pk: 'PROVIDER', sk: 'CAPACITY' };
export const LEDGER = 'LEDGER#';
export const ledgerKey = (userId: string, seq: number) => ({ pk: userPartition(userId), sk: `${LEDGER}${String(seq).padStart(12, '0')}` });
export const PUSH = 'PUSH#';
export const pushKey = (userId: string, endpointHash: string) => ({ pk: userPartition(userId), sk: `${PUSH}${endpointHash}` });
export const slotKey = (slot: number) => ({ pk: SLOT, sk: String(slot).padStart(3, '0') });

/** An item's entry in the sparse `live` index. */
export const liveEntry = (partition: string, sort: string) => ({ [LIVE.partitionKey]: partition, [LIVE.sortKey]: sort });
/** A job's entry in the `byUser` index: the user's jobs, newest first. */
export const byUserEntry = (job: Pick<JobRecord, 'userId' | 'createdAt' | 'jobId'>) => ({
  [BY_USER.partitionKey]: userPartition(job.userId),
  [BY_USER.sortKey]: `${job.createdAt}#${job.jobId}`,
});

/** Admission order: time first, job id breaks ties, so the order is total (clients compare the same keys). */
export { queueKeyOf } from '../../domain/jobs';
/** createdAt is ISO-8601 (`2026-11-30T04:05:19.459Z`): its minute, its second within the minute, and its whole second. */
export const minuteOf = (createdAt: string) => createdAt.slice(0, 16);
const secondOf = (createdAt: string) => createdAt.slice(0, 19);
export const QUEUE_MINUTES = 'QUEUE#MINUTE';
export const queueSecondsPartition = (minute: string) => `QUEUE#SECOND#${minute}`;
export const queueSecondsOf = (createdAt: string) => ({ pk: queueSecondsPartition(minuteOf(createdAt)), sk: createdAt.slice(17, 19) });
export const queueAtOf = (createdAt: string) => `QUEUE#AT#${secondOf(createdAt)}`;
