import { type JobRecord, queueKeyOf } from './jobs';
import type { LiveChannel } from './ports';
import type { JobViews } from './views';

export interface LiveUpdatesDeps {
  channel: LiveChannel;
  views: JobViews;
  log(message: string, fields: Record<string, unknown>): void;
}

/**
 * Publishes state changes after they committed. Never throws: the job path must not fail or wait on a browser,
 * and a client that missed an event re-reads once through the API.
 */
export function liveUpdates({ channel, views, log }: LiveUpdatesDeps) {
  const quietly = async (what: string, send: () => Promise<void>) => {
    try {
      await send();
    } catch (error) {
      log('live update not sent', { what, error: (error as Error).message });
    }
  };

  /** The job as the API shows it, to its owner (a queued job's position costs one read, once per change). */
  const jobChanged = (job: JobRecord) =>
    quietly('job', async () => {
      const view = await views.toJob({ ...job, outputs: [] });
      const outputs = job.outputs.map(({ contentType, bytes }) => ({ contentType, bytes }));
      await channel.toUser(job.userId, { type: 'job', job: { ...view, outputs } });
    });

  /** Jobs left the queue or came back to it: every waiting client recomputes its own position. */
  const queueMoved = (change: { left?: JobRecord[]; joined?: JobRecord[] }) =>
    quietly('queue', () =>
      channel.toEveryone({ type: 'queue', left: (change.left ?? []).map(queueKeyOf), joined: (change.joined ?? []).map(queueKeyOf) }),
    );

  return { jobChanged, queueMoved };
}

export type LiveUpdates = ReturnType<typeof liveUpdates>;

/** For services built without a channel (tests, functions that never publish). */
export const NO_LIVE_UPDATES: LiveUpdates = { jobChanged: async () => {}, queueMoved: async () => {} };
